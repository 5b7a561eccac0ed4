package io.vduse.virtqueue;

import io.vduse.api.Layouts;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Writes the device-writable buffers of a {@link DescriptorChain} as one stream of bytes:
 * payloads copied from a backend segment, status bytes and little-endian values. A buffer may
 * span several mappings and a value may straddle two buffers; both are handled here.
 *
 * <p>A flyweight owned by its chain and rewound by every pop. {@link #bytesWritten()} is what a
 * device passes to {@link DeviceQueue#push}. Writing more than {@link #remaining()} throws
 * {@link IndexOutOfBoundsException}; memory the driver did not map writable breaks the queue and
 * throws {@link VirtqueueException}.
 */
public final class ChainWriter {

    private final BufferCursor cursor;
    // Values that straddle a buffer or mapping boundary are staged here; allocated once. Native
    // memory, as ChainReader's scratch is.
    private final MemorySegment scratch = Arena.ofAuto().allocate(8);

    ChainWriter(BufferCursor cursor) {
        this.cursor = cursor;
    }

    BufferCursor cursor() {
        return cursor;
    }

    /** Bytes that may still be written. */
    public long remaining() {
        return cursor.remaining();
    }

    /** Bytes written or skipped since the pop. */
    public long bytesWritten() {
        return cursor.done();
    }

    /** Skips {@code length} bytes, leaving them as the driver left them; they count as written. */
    public void skip(long length) {
        cursor.skip(length);
    }

    /** Writes one byte. */
    public void writeByte(byte value) {
        cursor.require(1);
        try {
            cursor.piece(1);
            cursor.segment.set(Layouts.U8, cursor.offset, value);
            cursor.advance(1);
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
    }

    /** Writes a little-endian 16-bit value. */
    public void writeShortLe(short value) {
        cursor.require(2);
        try {
            if (cursor.piece(2) == 2) {
                cursor.segment.set(Layouts.LE16, cursor.offset, value);
                cursor.advance(2);
                return;
            }
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
        scratch.set(Layouts.LE16, 0, value);
        write(scratch, 0, 2);
    }

    /** Writes a little-endian 32-bit value. */
    public void writeIntLe(int value) {
        cursor.require(4);
        try {
            if (cursor.piece(4) == 4) {
                cursor.segment.set(Layouts.LE32, cursor.offset, value);
                cursor.advance(4);
                return;
            }
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
        scratch.set(Layouts.LE32, 0, value);
        write(scratch, 0, 4);
    }

    /** Writes a little-endian 64-bit value. */
    public void writeLongLe(long value) {
        cursor.require(8);
        try {
            if (cursor.piece(8) == 8) {
                cursor.segment.set(Layouts.LE64, cursor.offset, value);
                cursor.advance(8);
                return;
            }
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
        scratch.set(Layouts.LE64, 0, value);
        write(scratch, 0, 8);
    }

    /** Copies {@code length} bytes of {@code source} from {@code sourceOffset} into the chain. */
    public void write(MemorySegment source, long sourceOffset, long length) {
        cursor.require(length);
        long at = sourceOffset;
        long left = length;
        try {
            while (left > 0) {
                long n = cursor.piece(left);
                MemorySegment.copy(source, at, cursor.segment, cursor.offset, n);
                cursor.advance(n);
                at += n;
                left -= n;
            }
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
    }

    /**
     * Appends the next {@code length} bytes of the writable buffers to {@code vectors} as native
     * memory and moves past them, for a vectored read into the driver's memory ({@code preadv(2)})
     * instead of a copy. Returns false, having appended and moved past nothing, when some of the
     * bytes are not in native memory or {@code vectors} refuses a piece (it is full, or the piece
     * is off its alignment); the caller then copies as usual.
     *
     * <p>The addresses are raw: they stay valid only while the memory stays mapped. A
     * {@code VduseDevice} keeps the memory of a request mapped until the request completes, even
     * across an IOTLB update, so they are safe to use until then, on any thread (in
     * {@code QueueHandler.handle}, or until {@code Request.complete} for an asynchronous handler).
     *
     * @throws IndexOutOfBoundsException if fewer than {@code length} bytes are left
     * @throws VirtqueueException if a buffer is not mapped with the access it needs (the queue
     *     is failed, as for any access, and where this reader or writer and {@code vectors} then
     *     stand is unspecified)
     */
    public boolean appendTo(IoVectors vectors, long length) {
        return cursor.appendTo(vectors, length);
    }

    /**
     * Appends the next {@code length} bytes of the writable buffers to {@code vectors} as far
     * as it takes them, and moves past what was appended: a request in more pieces than one
     * {@code preadv(2)} takes is described and moved in batches. Stops when {@code length} bytes
     * are appended, when {@code vectors} is full, or before a piece that is not native memory or
     * is off the alignment of {@code vectors} (0 if that is the first piece: the caller copies
     * from there). Pieces are appended whole. The addresses are raw, as for {@link #appendTo}.
     *
     * @return the bytes appended, 0 to {@code length}
     * @throws IndexOutOfBoundsException if fewer than {@code length} bytes are left
     * @throws VirtqueueException if a buffer is not mapped with the access it needs
     */
    public long appendUpTo(IoVectors vectors, long length) {
        return cursor.appendUpTo(vectors, length);
    }

    /**
     * The next piece of the writable buffers, at most {@code maxLength} bytes, as a slice of the
     * memory it is mapped in, and moves past it: for a device that hands the driver's memory to
     * an API taking {@link java.nio.ByteBuffer}s (a socket) instead of copying. The slice is of
     * the mapping's own segment, so a use after the memory is unmapped fails instead of touching
     * freed memory; a {@code VduseDevice} keeps it mapped until the request completes.
     *
     * @param maxLength positive, at most {@link #remaining()}
     * @throws IndexOutOfBoundsException if {@code maxLength} is not positive or more than is left
     * @throws VirtqueueException if the buffer is not mapped with the access it needs
     */
    public MemorySegment nextSlice(long maxLength) {
        if (maxLength <= 0) {
            throw new IndexOutOfBoundsException("a slice of " + maxLength + " bytes");
        }
        return cursor.nextSlice(maxLength);
    }
}
