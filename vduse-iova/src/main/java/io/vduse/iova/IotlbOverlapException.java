package io.vduse.iova;

/**
 * An IOTLB insertion that would overlap a range already present.
 *
 * <p>Ranges in an {@link IotlbTree} never overlap, so that an address has at most one entry; the
 * caller has to remove the old range first.
 */
public final class IotlbOverlapException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final long start;
    private final long last;
    private final long existingStart;
    private final long existingLast;

    /**
     * Creates the exception for a rejected range and the first entry it overlaps.
     *
     * @param start first address of the rejected range
     * @param last last address of the rejected range
     * @param existingStart first address of the entry in the way
     * @param existingLast last address of the entry in the way
     */
    public IotlbOverlapException(long start, long last, long existingStart, long existingLast) {
        super("IOVA range [0x%x, 0x%x] overlaps the mapped range [0x%x, 0x%x]"
                .formatted(start, last, existingStart, existingLast));
        this.start = start;
        this.last = last;
        this.existingStart = existingStart;
        this.existingLast = existingLast;
    }

    /** First address of the rejected range. */
    public long start() {
        return start;
    }

    /** Last address of the rejected range. */
    public long last() {
        return last;
    }

    /** First address of the entry the range overlaps. */
    public long existingStart() {
        return existingStart;
    }

    /** Last address of the entry the range overlaps. */
    public long existingLast() {
        return existingLast;
    }
}
