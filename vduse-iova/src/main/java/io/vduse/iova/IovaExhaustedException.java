package io.vduse.iova;

/**
 * No free range of the asked size and alignment is left in an allocator's window: the
 * counterpart of the kernel's {@code DMA_MAPPING_ERROR} when its IOVA domain runs out.
 *
 * <p>Not a bug: a driver that maps too much at once sees its mapping fail and retries later.
 */
public final class IovaExhaustedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final long size;
    private final long alignment;

    /**
     * Creates the exception.
     *
     * @param size the size asked for, unsigned
     * @param alignment the alignment asked for
     * @param windowStart first address of the allocator's window
     * @param windowLast last address of the allocator's window
     */
    public IovaExhaustedException(long size, long alignment, long windowStart, long windowLast) {
        super("no free IOVA range of %s bytes aligned to 0x%x in [0x%x, 0x%x]"
                .formatted(Long.toUnsignedString(size), alignment, windowStart, windowLast));
        this.size = size;
        this.alignment = alignment;
    }

    /** The size asked for, unsigned. */
    public long size() {
        return size;
    }

    /** The alignment asked for. */
    public long alignment() {
        return alignment;
    }
}
