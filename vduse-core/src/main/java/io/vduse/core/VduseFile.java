package io.vduse.core;

import io.vduse.api.Ioctl;
import java.lang.foreign.MemorySegment;

/**
 * An open {@code /dev/vduse/control} or {@code /dev/vduse/$NAME}: the operations the SDK performs
 * on it, and nothing else. The real kernel and the simulated kernel implement this with the same
 * byte layouts and the same errors, so everything above it runs the same code on both.
 *
 * <p>Arguments are native memory laid out as the kernel's structs ({@code io.vduse.api}). Errors
 * are {@link ErrnoException}s with the errno the kernel gives.
 */
public interface VduseFile extends AutoCloseable {

    /**
     * {@code ioctl(2)} with a pointer argument.
     *
     * @param argument the argument struct, or {@link MemorySegment#NULL} for {@code _IO} ioctls
     * @return the non-negative result; a new file descriptor for {@code VDUSE_IOTLB_GET_FD}
     */
    int ioctl(Ioctl request, MemorySegment argument) throws ErrnoException;

    /**
     * Reads one control message ({@code struct vduse_dev_request}) without blocking.
     *
     * @return bytes read; {@code EAGAIN} is thrown when no message is waiting
     */
    long read(MemorySegment buffer, long length) throws ErrnoException;

    /**
     * Writes one response ({@code struct vduse_dev_response}).
     *
     * @return bytes written
     */
    long write(MemorySegment buffer, long length) throws ErrnoException;

    /**
     * Waits until a message can be read, or the time-out passes.
     *
     * @param timeoutMillis how long to wait at most; 0 to check and return
     * @return whether a message is waiting
     * @throws DeviceBrokenException if {@code poll(2)} reports {@code POLLERR} or {@code POLLHUP}:
     *     the kernel marked the device broken, no message will come again, and waiting more
     *     would return at once, forever
     */
    boolean awaitReadable(int timeoutMillis) throws ErrnoException, DeviceBrokenException;

    /** The file descriptor number, for log messages; -1 where there is none. */
    int fd();

    /** Closes the file. Closing twice does nothing. */
    @Override
    void close() throws ErrnoException;
}
