package io.vduse.virtqueue;

import io.vduse.api.Layouts;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Reads the device-readable buffers of a {@link DescriptorChain} as one stream of bytes: request
 * headers as little-endian values, payloads copied into a backend segment. A buffer may span
 * several mappings and a value may straddle two buffers; both are handled here.
 *
 * <p>A flyweight owned by its chain and rewound by every pop. Reading more than
 * {@link #remaining()} throws {@link IndexOutOfBoundsException} (a device checks the length of
 * what the driver sent first); memory the driver did not map readable breaks the queue and
 * throws {@link VirtqueueException}.
 */
public final class ChainReader {

    private final BufferCursor cursor;
    // Values that straddle a buffer or mapping boundary are gathered here; allocated once. Native
    // memory, not a byte[]: one heap segment in the process keeps C1 from inlining every segment
    // access (vduse-blk's NativeSegmentsTest says why).
    private final MemorySegment scratch = Arena.ofAuto().allocate(8);

    ChainReader(BufferCursor cursor) {
        this.cursor = cursor;
    }

    BufferCursor cursor() {
        return cursor;
    }

    /** Bytes not yet read. */
    public long remaining() {
        return cursor.remaining();
    }

    /** Bytes read or skipped since the pop. */
    public long bytesRead() {
        return cursor.done();
    }

    /** Skips {@code length} bytes. */
    public void skip(long length) {
        cursor.skip(length);
    }

    /** Reads one byte. */
    public byte readByte() {
        cursor.require(1);
        try {
            cursor.piece(1);
            byte value = cursor.segment.get(Layouts.U8, cursor.offset);
            cursor.advance(1);
            return value;
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
    }

    /** Reads a little-endian 16-bit value. */
    public short readShortLe() {
        cursor.require(2);
        try {
            if (cursor.piece(2) == 2) {
                short value = cursor.segment.get(Layouts.LE16, cursor.offset);
                cursor.advance(2);
                return value;
            }
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
        read(scratch, 0, 2);
        return scratch.get(Layouts.LE16, 0);
    }

    /** Reads a little-endian 32-bit value. */
    public int readIntLe() {
        cursor.require(4);
        try {
            if (cursor.piece(4) == 4) {
                int value = cursor.segment.get(Layouts.LE32, cursor.offset);
                cursor.advance(4);
                return value;
            }
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
        read(scratch, 0, 4);
        return scratch.get(Layouts.LE32, 0);
    }

    /** Reads a little-endian 64-bit value. */
    public long readLongLe() {
        cursor.require(8);
        try {
            if (cursor.piece(8) == 8) {
                long value = cursor.segment.get(Layouts.LE64, cursor.offset);
                cursor.advance(8);
                return value;
            }
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
        read(scratch, 0, 8);
        return scratch.get(Layouts.LE64, 0);
    }

    /** Copies the next {@code length} bytes into {@code destination} at {@code destinationOffset}. */
    public void read(MemorySegment destination, long destinationOffset, long length) {
        cursor.require(length);
        long at = destinationOffset;
        long left = length;
        try {
            while (left > 0) {
                long n = cursor.piece(left);
                MemorySegment.copy(cursor.segment, cursor.offset, destination, at, n);
                cursor.advance(n);
                at += n;
                left -= n;
            }
        } catch (IllegalStateException e) {
            throw cursor.invalidated(e);
        }
    }

    /**
     * Appends the next {@code length} bytes of the readable buffers to {@code vectors} as native
     * memory and moves past them, for a vectored write from the driver's memory ({@code pwritev(2)})
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
     * Appends the next {@code length} bytes of the readable buffers to {@code vectors} as far
     * as it takes them, and moves past what was appended: a request in more pieces than one
     * {@code pwritev(2)} takes is described and moved in batches. Stops when {@code length} bytes
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
     * The next piece of the readable buffers, at most {@code maxLength} bytes, as a slice of the
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
