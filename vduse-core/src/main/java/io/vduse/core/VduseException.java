package io.vduse.core;

import java.io.IOException;

/**
 * A device could not be created, opened, reconnected or destroyed; the message says why in the
 * terms of the task at hand (for example, that the device is still attached to the vDPA bus and
 * {@code vdpa dev del NAME} must run first), and the cause carries the failed system call.
 */
public final class VduseException extends IOException {

    private static final long serialVersionUID = 1L;

    /** Creates the exception. */
    public VduseException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Creates the exception without a cause. */
    public VduseException(String message) {
        super(message);
    }
}
