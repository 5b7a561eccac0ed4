package io.vduse.core;

import java.io.IOException;

/**
 * The kernel marked a VDUSE device broken: {@code poll(2)} on {@code /dev/vduse/$NAME} reports
 * {@code POLLERR}. Linux does this when a control message went unanswered for longer than the
 * device's {@code msg_timeout} ({@code /sys/class/vduse/$NAME/msg_timeout}, 30 s by default), or
 * when the device answered FAILED to a message the kernel cannot do without
 * ({@code VDUSE_SET_VQ_READY}, Linux 7.3).
 *
 * <p>A broken device gets no more messages and every ioctl on it fails with {@code EPERM}.
 * Nothing clears the state in {@code vduse_dev.c}: not a reset by the driver, not closing and
 * reopening the device file. The way back is {@code vdpa dev del $NAME}, destroying the device
 * ({@link VduseDevice#close()}) and creating it again.
 */
public final class DeviceBrokenException extends IOException {

    private static final long serialVersionUID = 1L;

    private final String file;
    private final String events;

    /**
     * Creates the exception.
     *
     * @param file the device file, e.g. {@code /dev/vduse/vduse0}
     * @param events what {@code poll} reported, e.g. {@code POLLERR}
     */
    public DeviceBrokenException(String file, String events) {
        super(file + ": poll reports " + events + ": the kernel marked the VDUSE device broken");
        this.file = file;
        this.events = events;
    }

    /** The device file. */
    public String file() {
        return file;
    }

    /** What {@code poll} reported, e.g. {@code POLLERR}. */
    public String events() {
        return events;
    }
}
