package io.vduse.virtqueue;

import io.vduse.iova.Access;
import io.vduse.iova.IovaFault;
import io.vduse.iova.IovaMemory;
import io.vduse.iova.Mapping;
import io.vduse.virtqueue.VirtqueueException.Reason;
import java.lang.foreign.MemorySegment;

/**
 * A position in a run of a chain's buffers, turned into memory piece by piece: each piece is the
 * longest stretch that lies in one buffer and one mapping. The last mapping is kept, so buffers
 * in the same mapping (the usual bounce buffer) cost one translation per chain.
 *
 * <p>After {@link #piece}, {@link #segment} and {@link #offset} say where the piece is; the
 * caller copies and then calls {@link #advance}.
 */
final class BufferCursor {

    private final DescriptorChain chain;
    private final IovaMemory memory;
    private final Access access;

    private int index;
    private int end;
    private long inBuffer;
    private long remaining;
    private long done;
    private Mapping mapping;

    MemorySegment segment;
    long offset;

    BufferCursor(DescriptorChain chain, IovaMemory memory, Access access) {
        this.chain = chain;
        this.memory = memory;
        this.access = access;
    }

    void reset(int first, int endExclusive, long total) {
        index = first;
        end = endExclusive;
        inBuffer = 0;
        remaining = total;
        done = 0;
        // A mapping may be replaced between chains (IOTLB update); translate afresh per chain.
        mapping = null;
    }

    long remaining() {
        return remaining;
    }

    long done() {
        return done;
    }

    void require(long length) {
        if (length < 0 || length > remaining) {
            throw new IndexOutOfBoundsException(
                    "%d bytes asked for, %d left in the chain's %s buffers"
                            .formatted(length, remaining, access == Access.READ ? "readable" : "writable"));
        }
    }

    /**
     * Points {@link #segment} and {@link #offset} at the next piece and returns its length, at most
     * {@code want}; {@code want} must be positive and at most {@link #remaining()}.
     */
    long piece(long want) {
        long length = chain.lengthAt(index);
        while (inBuffer == length) {
            // Zero-length buffers and finished ones are skipped; remaining > 0 says one follows.
            index++;
            inBuffer = 0;
            length = chain.lengthAt(index);
        }
        long iova = chain.addressAt(index) + inBuffer;
        Mapping m = mapping;
        if (m == null || !m.contains(iova)) {
            m = translate(iova);
            mapping = m;
        }
        long inMapping = m.remainingFrom(iova);
        long n = Math.min(want, length - inBuffer);
        // remainingFrom is unsigned; 0 means the mapping runs to the end of IOVA space.
        if (inMapping != 0 && Long.compareUnsigned(inMapping, n) < 0) {
            n = inMapping;
        }
        segment = m.memory();
        offset = m.offsetOf(iova);
        return n;
    }

    /**
     * The next piece, at most {@code want} bytes (positive, at most {@link #remaining()}), as a
     * slice of the memory it is mapped in, and moves past it.
     */
    MemorySegment nextSlice(long want) {
        require(want);
        try {
            long n = piece(want);
            MemorySegment slice = segment.asSlice(offset, n);
            advance(n);
            return slice;
        } catch (IllegalStateException e) {
            throw invalidated(e);
        }
    }

    void advance(long n) {
        inBuffer += n;
        remaining -= n;
        done += n;
    }

    /**
     * Appends the next {@code length} bytes to {@code vectors} as native pieces and moves past
     * them; returns false, having appended and moved past nothing, when a piece is not native
     * memory (a heap-backed mapping) or {@code vectors} refuses it (full, or off its alignment).
     */
    boolean appendTo(IoVectors vectors, long length) {
        require(length);
        int markIndex = index;
        long markInBuffer = inBuffer;
        long markRemaining = remaining;
        long markDone = done;
        int markCount = vectors.count();
        long left = length;
        while (left > 0) {
            long n = piece(left);
            if (!segment.isNative() || !vectors.add(segment.address() + offset, n)) {
                index = markIndex;
                inBuffer = markInBuffer;
                remaining = markRemaining;
                done = markDone;
                vectors.truncate(markCount);
                return false;
            }
            advance(n);
            left -= n;
        }
        return true;
    }

    /**
     * Appends native pieces of the next {@code length} bytes to {@code vectors} and moves past
     * them, until {@code length} bytes are appended, {@code vectors} is full, or a piece is not
     * native memory or is off its alignment; returns the bytes appended (0 when the first piece
     * is refused). Pieces are appended whole, so what is appended ends on a piece boundary.
     */
    long appendUpTo(IoVectors vectors, long length) {
        require(length);
        long left = length;
        while (left > 0 && vectors.count() < vectors.capacity()) {
            long n = piece(left);
            if (!segment.isNative() || !vectors.add(segment.address() + offset, n)) {
                break;
            }
            advance(n);
            left -= n;
        }
        return length - left;
    }

    /** Skips {@code n} bytes without translating them. */
    void skip(long n) {
        require(n);
        long left = n;
        while (left > 0) {
            long length = chain.lengthAt(index);
            if (inBuffer == length) {
                index++;
                inBuffer = 0;
                continue;
            }
            long step = Math.min(left, length - inBuffer);
            inBuffer += step;
            left -= step;
        }
        remaining -= n;
        done += n;
    }

    private Mapping translate(long iova) {
        if (index >= end) {
            throw new AssertionError("cursor ran past its buffers");
        }
        try {
            return memory.mapping(iova, access);
        } catch (IovaFault fault) {
            throw chain.queue().fail(new VirtqueueException(Reason.IOVA_FAULT,
                    "buffer %d of chain %d at 0x%x, length %d: %s".formatted(index, chain.id(),
                            chain.addressAt(index), chain.lengthAt(index), fault.getMessage()),
                    fault));
        }
    }

    /** Turns a failed access to memory that went away under us into the queue's typed error. */
    VirtqueueException invalidated(IllegalStateException e) {
        return chain.queue().fail(new VirtqueueException(Reason.IOVA_FAULT,
                "memory of buffer %d of chain %d at 0x%x was invalidated while in use"
                        .formatted(index, chain.id(), chain.addressAt(index)),
                e));
    }
}
