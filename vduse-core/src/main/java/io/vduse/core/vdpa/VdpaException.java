package io.vduse.core.vdpa;

import java.io.IOException;

/**
 * The kernel refused to add, bind or remove a vDPA device, or cannot be asked: the message says
 * what was tried, what the kernel answered and, where it is known, what to do about it.
 */
public final class VdpaException extends IOException {

    private static final long serialVersionUID = 1L;

    private final int errno;

    /**
     * Creates the exception.
     *
     * @param message what failed and why
     * @param errno the kernel's errno, 0 when the failure was not an errno
     * @param cause what failed underneath, or null
     */
    public VdpaException(String message, int errno, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    /** The errno the kernel answered, 0 when the failure was not an errno. */
    public int errno() {
        return errno;
    }
}
