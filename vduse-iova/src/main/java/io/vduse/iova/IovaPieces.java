package io.vduse.iova;

import java.util.Objects;

/**
 * A reusable list of the pieces of one buffer, each piece a (mapping, offset, length): what
 * {@link IovaMemory#gather} fills, so a queue thread can walk a buffer that spans mappings
 * without allocating. Make one per thread of the capacity it needs and reuse it; not
 * thread-safe.
 */
public final class IovaPieces {

    private final Mapping[] mappings;
    private final long[] offsets;
    private final long[] lengths;
    private int count;

    /**
     * Creates room for {@code capacity} pieces.
     *
     * @throws IllegalArgumentException if {@code capacity} is not positive
     */
    public IovaPieces(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity %d".formatted(capacity));
        }
        this.mappings = new Mapping[capacity];
        this.offsets = new long[capacity];
        this.lengths = new long[capacity];
    }

    /** How many pieces fit. */
    public int capacity() {
        return mappings.length;
    }

    /** How many pieces the last fill produced. */
    public int count() {
        return count;
    }

    /** The mapping of piece {@code i}. */
    public Mapping mapping(int i) {
        return mappings[Objects.checkIndex(i, count)];
    }

    /** Where piece {@code i} starts in its mapping's memory. */
    public long offset(int i) {
        return offsets[Objects.checkIndex(i, count)];
    }

    /** The byte count of piece {@code i}. */
    public long length(int i) {
        return lengths[Objects.checkIndex(i, count)];
    }

    /** Empties the list, dropping its references to mappings. */
    public void clear() {
        java.util.Arrays.fill(mappings, 0, count, null);
        count = 0;
    }

    /** Appends a piece; false if the list is full. */
    boolean add(Mapping mapping, long offset, long length) {
        if (count == mappings.length) {
            return false;
        }
        mappings[count] = mapping;
        offsets[count] = offset;
        lengths[count] = length;
        count++;
        return true;
    }
}
