package io.vduse.virtqueue;

/**
 * A virtqueue met input it must not accept from the driver, or memory it cannot reach; the queue
 * is broken from then on and every further {@code pop} throws this same exception until the
 * queue is reset.
 *
 * <p>{@link #reason()} says which check failed; the message carries the offending values; for
 * {@link Reason#IOVA_FAULT} the cause is the {@link io.vduse.iova.IovaFault} (or the
 * {@link IllegalStateException} of memory invalidated while in use).
 */
public final class VirtqueueException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Which rule the driver (or the memory behind a buffer) broke. */
    public enum Reason {
        /** A ring address is not aligned as the specification requires, or the queue size is invalid. */
        BAD_RING_SETUP,
        /** A descriptor index is not below the queue size (or the indirect table length). */
        DESCRIPTOR_INDEX_OUT_OF_RANGE,
        /** The {@code next} fields of a chain come back to a descriptor already in it. */
        DESCRIPTOR_LOOP,
        /** A chain has more descriptors than the queue size. */
        CHAIN_TOO_LONG,
        /** An indirect table holds a descriptor flagged indirect. */
        NESTED_INDIRECT,
        /** An indirect table of length zero. */
        INDIRECT_TABLE_EMPTY,
        /** An indirect table whose length is not a multiple of 16. */
        INDIRECT_TABLE_MISALIGNED,
        /** A descriptor flagged both indirect and next. */
        INDIRECT_WITH_NEXT,
        /** An indirect descriptor although {@code VIRTIO_F_INDIRECT_DESC} was not negotiated. */
        INDIRECT_NOT_NEGOTIATED,
        /** A device-readable buffer after a device-writable one. */
        READABLE_AFTER_WRITABLE,
        /** The available index is more than the queue size ahead of the used index. */
        AVAIL_INDEX_TOO_FAR,
        /** {@code addr + len} of a buffer wraps past 2^64. */
        ADDRESS_OVERFLOW,
        /** The buffers of a chain add up to more than 2^32 - 1 bytes. */
        LENGTH_OVERFLOW,
        /** A buffer or table address is unmapped, lacks the needed access, or its memory is gone. */
        IOVA_FAULT,
        /** The restored state does not fit the ring (e.g. last_avail_idx too far from used idx). */
        BAD_STATE,
        /** A chain whose head (split) or buffer id (packed) is that of a chain still in flight. */
        ID_IN_FLIGHT
    }

    private final Reason reason;

    /**
     * Creates an exception for a broken rule.
     *
     * @param reason which rule
     * @param message the offending values
     */
    public VirtqueueException(Reason reason, String message) {
        super(reason + ": " + message);
        this.reason = reason;
    }

    /**
     * Creates an exception for a fault of the memory behind an address.
     *
     * @param reason which rule
     * @param message the offending values
     * @param cause the fault of the address translation
     */
    public VirtqueueException(Reason reason, String message, Throwable cause) {
        super(reason + ": " + message, cause);
        this.reason = reason;
    }

    /** Which rule was broken. */
    public Reason reason() {
        return reason;
    }
}
