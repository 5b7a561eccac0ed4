package io.vduse.core.internal.linux;

import io.vduse.api.Ioctl;
import io.vduse.core.DeviceBrokenException;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A {@link VduseFile} that is a real file descriptor. */
final class LinuxVduseFile implements VduseFile {

    private final int fd;
    private final String path;
    private final MemorySegment pollfd;
    private boolean closed;

    LinuxVduseFile(int fd, String path) {
        this.fd = fd;
        this.path = path;
        // One pollfd per file, reused: awaitReadable runs on the message thread only.
        this.pollfd = Arena.ofAuto().allocate(Syscalls.POLLFD);
    }

    @Override
    public int ioctl(Ioctl request, MemorySegment argument) throws ErrnoException {
        return Syscalls.ioctl(fd, request, argument);
    }

    @Override
    public long read(MemorySegment buffer, long length) throws ErrnoException {
        return Syscalls.read(fd, buffer, length);
    }

    @Override
    public long write(MemorySegment buffer, long length) throws ErrnoException {
        return Syscalls.write(fd, buffer, length);
    }

    /**
     * {@code poll(2)} for {@code POLLIN}. The kernel reports {@code POLLERR}, {@code POLLHUP} and
     * {@code POLLNVAL} whether asked for or not, and at once: a caller that took them for "nothing
     * to read yet" would poll again without ever waiting. {@code vduse_dev_poll} sets
     * {@code POLLERR} once the device is broken, and from then on no message is queued.
     */
    @Override
    public boolean awaitReadable(int timeoutMillis) throws ErrnoException, DeviceBrokenException {
        pollfd.set(ValueLayout.JAVA_INT, 0, fd);
        pollfd.set(ValueLayout.JAVA_SHORT, 4, Syscalls.POLLIN);
        pollfd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        if (Syscalls.poll(pollfd, 1, timeoutMillis) <= 0) {
            return false;
        }
        short revents = pollfd.get(ValueLayout.JAVA_SHORT, 6);
        if ((revents & Syscalls.POLLNVAL) != 0) {
            throw new ErrnoException("poll " + this + ": POLLNVAL, the descriptor is not open", Errno.EBADF);
        }
        if ((revents & (Syscalls.POLLERR | Syscalls.POLLHUP)) != 0) {
            String events = (revents & Syscalls.POLLERR) != 0 && (revents & Syscalls.POLLHUP) != 0 ? "POLLERR|POLLHUP"
                    : (revents & Syscalls.POLLERR) != 0 ? "POLLERR" : "POLLHUP";
            throw new DeviceBrokenException(path, events);
        }
        return (revents & Syscalls.POLLIN) != 0;
    }

    @Override
    public int fd() {
        return fd;
    }

    @Override
    public synchronized void close() throws ErrnoException {
        if (!closed) {
            closed = true;
            Syscalls.close(fd);
        }
    }

    @Override
    public String toString() {
        return path + " (fd " + fd + ")";
    }
}
