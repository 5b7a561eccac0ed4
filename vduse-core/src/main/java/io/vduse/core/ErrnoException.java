package io.vduse.core;

import java.io.IOException;

/**
 * A system call failed: carries the operation, the {@code errno} and its symbolic name, as in
 * {@code VDUSE_CREATE_DEV: EEXIST (17) File exists}.
 */
public final class ErrnoException extends IOException {

    private static final long serialVersionUID = 1L;

    private final String operation;
    private final int errno;

    /**
     * Creates the exception.
     *
     * @param operation what was called, e.g. {@code open /dev/vduse/control} or an ioctl name
     * @param errno the error number the call left in {@code errno}
     */
    public ErrnoException(String operation, int errno) {
        super("%s: %s (%d) %s".formatted(operation, Errno.name(errno), errno, Errno.description(errno)));
        this.operation = operation;
        this.errno = errno;
    }

    /** What was called. */
    public String operation() {
        return operation;
    }

    /** The error number. */
    public int errno() {
        return errno;
    }

    /** The symbolic name of the error number, e.g. {@code EBUSY}. */
    public String errnoName() {
        return Errno.name(errno);
    }
}
