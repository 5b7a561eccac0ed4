package io.vduse.blk;

import io.vduse.core.Errno;
import io.vduse.core.internal.linux.Syscalls;

/**
 * The {@code fallocate(2)} calls a file backend tries, in order, to discard or zero one range,
 * and where each answer leads: the one ladder both the synchronous path ({@link FileBackend})
 * and the io_uring path ({@link UringQueueHandler}, one {@code IORING_OP_FALLOCATE} per step)
 * climb, so the two cannot drift apart.
 *
 * <p>A step either succeeds, is not supported by the file system ({@code EOPNOTSUPP},
 * {@code ENOSYS}: the next step is tried), or fails (any other error: the request fails).
 * {@link #WRITE} is no {@code fallocate}: where none zeroes, zeros are written.
 */
enum ZeroingStep {
    /** DISCARD: a hole; where there are none, nothing, which a discard (a hint) allows. */
    DISCARD(Syscalls.FALLOC_FL_PUNCH_HOLE | Syscalls.FALLOC_FL_KEEP_SIZE),
    /** WRITE_ZEROES that may deallocate (the unmap flag): a hole first. */
    UNMAP(Syscalls.FALLOC_FL_PUNCH_HOLE | Syscalls.FALLOC_FL_KEEP_SIZE),
    /** WRITE_ZEROES, keeping the space allocated. */
    ZERO_RANGE(Syscalls.FALLOC_FL_ZERO_RANGE | Syscalls.FALLOC_FL_KEEP_SIZE),
    /**
     * tmpfs, for one, punches holes but has no ZERO_RANGE: a hole, then the space allocated again,
     * is zeros that later writes cannot fail to find room for.
     */
    PUNCH_THEN_RESERVE(Syscalls.FALLOC_FL_PUNCH_HOLE | Syscalls.FALLOC_FL_KEEP_SIZE),
    /** The allocation after {@link #PUNCH_THEN_RESERVE}: a reservation only, so not needed to succeed. */
    RESERVE(Syscalls.FALLOC_FL_KEEP_SIZE),
    /** No fallocate zeroes here: write zeros. */
    WRITE(-1),
    /** The range is done. */
    DONE(-1);

    private final int mode;

    ZeroingStep(int mode) {
        this.mode = mode;
    }

    /** The first step for a range of a DISCARD, or of a WRITE_ZEROES with or without the unmap flag. */
    static ZeroingStep first(boolean writeZeroes, boolean unmap) {
        return !writeZeroes ? DISCARD : unmap ? UNMAP : ZERO_RANGE;
    }

    /** The {@code fallocate} mode of this step; only for the steps that are a call. */
    int mode() {
        if (mode < 0) {
            throw new IllegalStateException(this + " is not a fallocate call");
        }
        return mode;
    }

    /** Whether this step is a {@code fallocate} call (not {@link #WRITE} or {@link #DONE}). */
    boolean isCall() {
        return mode >= 0;
    }

    /**
     * Where this step's answer leads.
     *
     * @param errno 0 when the call succeeded, else its error
     * @return the next step, or null when the error fails the range (and the request)
     */
    ZeroingStep next(int errno) {
        boolean unsupported = errno == Errno.EOPNOTSUPP || errno == Errno.ENOSYS;
        if (errno != 0 && !unsupported) {
            return null;
        }
        return switch (this) {
            case DISCARD, RESERVE -> DONE;
            case UNMAP -> unsupported ? ZERO_RANGE : DONE;
            case ZERO_RANGE -> unsupported ? PUNCH_THEN_RESERVE : DONE;
            case PUNCH_THEN_RESERVE -> unsupported ? WRITE : RESERVE;
            case WRITE, DONE -> throw new IllegalStateException(this + " is not a fallocate call");
        };
    }
}
