package io.vduse.iova;

/**
 * A device address that cannot be turned into memory: the driver handed over an IOVA that is
 * not mapped, lacks the needed permission, or describes an impossible range.
 *
 * <p>This is a driver error, not a bug of the device: the caller fails the request or marks the
 * queue broken and goes on. {@link #reason()} says which check failed.
 */
public final class IovaFault extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Which check an address failed. */
    public enum Reason {
        /** No mapping holds the address. */
        UNMAPPED,
        /** A mapping holds the address, but without the access asked for. */
        PERMISSION,
        /** {@code iova + length} wraps past 2^64. */
        OVERFLOW,
        /** A buffer of length zero was asked for where none is allowed. */
        ZERO_LENGTH,
        /** A range whose last address is below its first. */
        INVALID_RANGE,
        /** The buffer is mapped, but not by one contiguous piece of memory, and one was needed. */
        NOT_CONTIGUOUS
    }

    private final Reason reason;
    private final long iova;
    private final long length;
    private final Access access;

    /**
     * Creates a fault.
     *
     * @param reason which check failed
     * @param iova the address asked for
     * @param length the length asked for (0 where none applies)
     * @param access the access asked for
     */
    public IovaFault(Reason reason, long iova, long length, Access access) {
        super(describe(reason, iova, length, access), null, false, false);
        this.reason = reason;
        this.iova = iova;
        this.length = length;
        this.access = access;
    }

    private static String describe(Reason reason, long iova, long length, Access access) {
        return "%s: IOVA 0x%x, length %s, access %s"
                .formatted(reason, iova, Long.toUnsignedString(length), access);
    }

    /** Which check failed. */
    public Reason reason() {
        return reason;
    }

    /** The address asked for. */
    public long iova() {
        return iova;
    }

    /** The length asked for, unsigned; 0 where none applies. */
    public long length() {
        return length;
    }

    /** The access asked for. */
    public Access access() {
        return access;
    }
}
