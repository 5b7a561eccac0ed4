package io.vduse.core.internal.linux;

import io.vduse.api.Ioctl;
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

    @Override
    public boolean awaitReadable(int timeoutMillis) throws ErrnoException {
        pollfd.set(ValueLayout.JAVA_INT, 0, fd);
        pollfd.set(ValueLayout.JAVA_SHORT, 4, Syscalls.POLLIN);
        pollfd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        return Syscalls.poll(pollfd, 1, timeoutMillis) > 0
                && (pollfd.get(ValueLayout.JAVA_SHORT, 6) & Syscalls.POLLIN) != 0;
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
