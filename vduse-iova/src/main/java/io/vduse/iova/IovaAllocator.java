package io.vduse.iova;

import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * Hands out aligned ranges of IOVA space inside a window {@code [windowStart, windowLast]} and
 * takes them back: the role of the kernel's {@code iova_domain} in a VDUSE domain, which has one
 * for streaming mappings below the bounce size and one for coherent memory above it.
 *
 * <p>First fit from the bottom of the window: the lowest aligned free address that fits wins,
 * so a range freed is the first one reused (the kernel's allocator searches down from the top
 * instead; nothing depends on the direction). Freed ranges merge with free neighbours, so the
 * free list never fragments more than the allocations do. Allocation is linear in the number of
 * free ranges, freeing is O(log n).
 *
 * <p>The window may touch 0 and 2^64 - 1; all arithmetic is unsigned and checked for wrap.
 * Not thread-safe: the owner locks.
 */
public final class IovaAllocator {

    private final long windowStart;
    private final long windowLast;
    /** Free ranges, start to last, disjoint and never adjacent (adjacent ones are merged). */
    private final NavigableMap<Long, Long> free = new TreeMap<>(Long::compareUnsigned);
    /** Allocated ranges, start to last. */
    private final NavigableMap<Long, Long> allocated = new TreeMap<>(Long::compareUnsigned);

    /**
     * Creates an allocator whose whole window is free.
     *
     * @throws IllegalArgumentException if {@code windowLast} is below {@code windowStart}
     */
    public IovaAllocator(long windowStart, long windowLast) {
        Ranges.checkRange(windowStart, windowLast);
        this.windowStart = windowStart;
        this.windowLast = windowLast;
        free.put(windowStart, windowLast);
    }

    /** First address of the window. */
    public long windowStart() {
        return windowStart;
    }

    /** Last address of the window. */
    public long windowLast() {
        return windowLast;
    }

    /**
     * Allocates {@code size} bytes starting at a multiple of {@code alignment}, and returns the
     * start.
     *
     * @param size bytes, unsigned, not 0
     * @param alignment a power of two (any, up to 2^63)
     * @throws IllegalArgumentException if {@code size} is 0 or {@code alignment} no power of two
     * @throws IovaExhaustedException if no free range fits
     */
    public long allocate(long size, long alignment) {
        if (size == 0) {
            throw new IllegalArgumentException("IOVA allocation of 0 bytes");
        }
        if (Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException(
                    "IOVA alignment 0x%x is not a power of two".formatted(alignment));
        }
        for (Map.Entry<Long, Long> range : free.entrySet()) {
            long rangeStart = range.getKey();
            long rangeLast = range.getValue();
            long start = (rangeStart + alignment - 1) & -alignment;
            if (Long.compareUnsigned(start, rangeStart) < 0) {
                // Rounding up wrapped past 2^64: no aligned address here or above.
                break;
            }
            long last = start + size - 1;
            if (Long.compareUnsigned(start, rangeLast) > 0
                    || Long.compareUnsigned(last, start) < 0
                    || Long.compareUnsigned(last, rangeLast) > 0) {
                continue;
            }
            take(rangeStart, rangeLast, start, last);
            allocated.put(start, last);
            return start;
        }
        throw new IovaExhaustedException(size, alignment, windowStart, windowLast);
    }

    /**
     * Frees the allocation starting at {@code start} and returns its size.
     *
     * @throws IllegalArgumentException if no allocation starts there (a double free, or an
     *     address that was never handed out)
     */
    public long free(long start) {
        Long last = allocated.remove(start);
        if (last == null) {
            throw new IllegalArgumentException(
                    "IOVA 0x%x is not the start of an allocation".formatted(start));
        }
        give(start, last);
        return last - start + 1;
    }

    /**
     * The size of the allocation starting at {@code start}, unsigned, or 0 if none starts
     * there.
     */
    public long allocationSize(long start) {
        Long last = allocated.get(start);
        return last == null ? 0 : last - start + 1;
    }

    /** The number of live allocations. */
    public int allocationCount() {
        return allocated.size();
    }

    /** Frees every allocation. */
    public void reset() {
        allocated.clear();
        free.clear();
        free.put(windowStart, windowLast);
    }

    /** Removes {@code [start, last]} from the free range {@code [rangeStart, rangeLast]}. */
    private void take(long rangeStart, long rangeLast, long start, long last) {
        free.remove(rangeStart);
        if (rangeStart != start) {
            free.put(rangeStart, start - 1);
        }
        if (last != rangeLast) {
            free.put(last + 1, rangeLast);
        }
    }

    /** Returns {@code [start, last]} to the free list, merged with free neighbours. */
    private void give(long start, long last) {
        long mergedStart = start;
        long mergedLast = last;
        Map.Entry<Long, Long> below = free.lowerEntry(start);
        // below.last + 1 == start cannot wrap: start > below.last.
        if (below != null && below.getValue() + 1 == start) {
            mergedStart = below.getKey();
            free.remove(below.getKey());
        }
        if (last != -1L) {
            Long aboveLast = free.remove(last + 1);
            if (aboveLast != null) {
                mergedLast = aboveLast;
            }
        }
        free.put(mergedStart, mergedLast);
    }

    @Override
    public String toString() {
        return "IovaAllocator[0x%x, 0x%x]: %d allocations, free %s"
                .formatted(windowStart, windowLast, allocated.size(), free);
    }
}
