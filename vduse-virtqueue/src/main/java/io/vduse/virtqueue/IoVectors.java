package io.vduse.virtqueue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A native array of {@code struct iovec} into which a chain's buffers are described
 * ({@link ChainReader#appendTo}, {@link ChainWriter#appendTo}), so that one vectored system call
 * ({@code preadv(2)}, {@code pwritev(2)}) moves a request's data between a file and the driver's
 * memory with no copy through a buffer of the device's.
 *
 * <p>Made once per queue and reused: nothing here allocates after construction. Every piece
 * must be aligned to the {@linkplain #alignment() alignment} given at construction, so that a
 * file opened with {@code O_DIRECT} can take the array as it is; a piece off the alignment is
 * refused and the caller copies instead. Not thread-safe.
 */
public final class IoVectors {

    /** {@code struct iovec} on 64-bit Linux: the base address, then the length. */
    public static final MemoryLayout IOVEC = MemoryLayout.structLayout(
            ValueLayout.JAVA_LONG.withName("iov_base"), ValueLayout.JAVA_LONG.withName("iov_len"));

    /** The most iovecs one Linux system call takes ({@code IOV_MAX}, {@code UIO_MAXIOV}). */
    public static final int IOV_MAX = 1024;

    private static final long BASE = 0;
    private static final long LENGTH = 8;
    private static final long SIZE = 16;

    private final MemorySegment array;
    private final int capacity;
    private final long alignment;
    private int count;
    private long total;

    /**
     * An empty array of room for {@code capacity} pieces.
     *
     * @param capacity 1 to {@link #IOV_MAX}
     * @param alignment a power of two that every piece's address and length must be a multiple
     *     of: 1 for any, the logical block size for a file opened with {@code O_DIRECT}
     */
    public IoVectors(int capacity, long alignment) {
        if (capacity < 1 || capacity > IOV_MAX) {
            throw new IllegalArgumentException("capacity must be 1 to " + IOV_MAX + ": " + capacity);
        }
        if (alignment < 1 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two: " + alignment);
        }
        this.array = Arena.ofAuto().allocate(SIZE * capacity, 8);
        this.capacity = capacity;
        this.alignment = alignment;
    }

    /** The native {@code struct iovec} array; its first {@link #count()} entries are in use. */
    public MemorySegment array() {
        return array;
    }

    /** How many pieces are described. */
    public int count() {
        return count;
    }

    /** The most pieces the array holds. */
    public int capacity() {
        return capacity;
    }

    /** What every piece's address and length are a multiple of. */
    public long alignment() {
        return alignment;
    }

    /** The sum of the pieces' lengths. */
    public long totalLength() {
        return total;
    }

    /** The address of piece {@code index}. */
    public long address(int index) {
        return array.get(ValueLayout.JAVA_LONG, checkIndex(index) * SIZE + BASE);
    }

    /** The length of piece {@code index}. */
    public long length(int index) {
        return array.get(ValueLayout.JAVA_LONG, checkIndex(index) * SIZE + LENGTH);
    }

    /** Forgets every piece. */
    public void clear() {
        count = 0;
        total = 0;
    }

    /**
     * Appends the native memory {@code [address, address + length)}; returns false, changing
     * nothing, when the array is full or the piece is off the alignment.
     *
     * @param length positive
     */
    public boolean add(long address, long length) {
        if (length <= 0) {
            throw new IllegalArgumentException("a piece needs a positive length: " + length);
        }
        if (count == capacity || ((address | length) & (alignment - 1)) != 0) {
            return false;
        }
        long at = count * SIZE;
        array.set(ValueLayout.JAVA_LONG, at + BASE, address);
        array.set(ValueLayout.JAVA_LONG, at + LENGTH, length);
        count++;
        total += length;
        return true;
    }

    /**
     * Drops the first {@code n} bytes, after a system call that moved only those (a short read or
     * write), so that the array describes what is still to move. The remaining pieces are moved to
     * the front of the array.
     *
     * @param n 0 to {@link #totalLength()}
     */
    public void consume(long n) {
        if (n < 0 || n > total) {
            throw new IllegalArgumentException("cannot consume %d of %d bytes".formatted(n, total));
        }
        long left = n;
        int first = 0;
        while (first < count && left >= length(first)) {
            left -= length(first);
            first++;
        }
        if (first > 0) {
            MemorySegment.copy(array, first * SIZE, array, 0, (count - first) * SIZE);
            count -= first;
        }
        if (left > 0) {
            // Only a partial piece remains at the front; the alignment no longer holds for it,
            // which a short transfer on an O_DIRECT file (at its end) cannot continue anyway.
            array.set(ValueLayout.JAVA_LONG, BASE, address(0) + left);
            array.set(ValueLayout.JAVA_LONG, LENGTH, length(0) - left);
        }
        total -= n;
    }

    /** Forgets the pieces from {@code newCount} on (to undo appends). */
    void truncate(int newCount) {
        for (int i = newCount; i < count; i++) {
            total -= length(i);
        }
        count = newCount;
    }

    private long checkIndex(int index) {
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException("piece " + index + " of " + count);
        }
        return index;
    }
}
