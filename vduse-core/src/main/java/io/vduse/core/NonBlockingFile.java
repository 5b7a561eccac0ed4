package io.vduse.core;

import io.vduse.api.Ioctl;
import io.vduse.core.internal.linux.Syscalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A file opened non-blocking for a device's backend, such as a TAP interface
 * ({@code /dev/net/tun}): {@code ioctl(2)}, and {@code read(2)} and {@code write(2)} that answer
 * "would block" instead of waiting, with a bounded wait for readiness ({@code poll(2)}), so that
 * a queue's thread never blocks indefinitely on it. The SDK's own native layer makes the calls,
 * so a device module needs no native access of its own.
 *
 * <p>One thread may read and another write at the same time (each wait has its own poll
 * structure); {@link #close()} only once neither uses the file any more.
 */
public final class NonBlockingFile implements AutoCloseable {

    private final Path path;
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment readPoll;
    private final MemorySegment writePoll;
    private boolean closed;

    private NonBlockingFile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
        this.readPoll = pollFor(Syscalls.POLLIN);
        this.writePoll = pollFor(Syscalls.POLLOUT);
    }

    private MemorySegment pollFor(short events) {
        MemorySegment poll = arena.allocate(Syscalls.POLLFD);
        poll.set(ValueLayout.JAVA_INT, 0, fd);
        poll.set(ValueLayout.JAVA_SHORT, 4, events);
        return poll;
    }

    /**
     * Opens {@code path} for reading and writing, non-blocking and close-on-exec.
     *
     * @throws ErrnoException what {@code open(2)} answered (ENOENT, EACCES, ...)
     */
    public static NonBlockingFile open(Path path) throws ErrnoException {
        Objects.requireNonNull(path, "path");
        int fd = Syscalls.open(path.toString(), Syscalls.O_RDWR | Syscalls.O_NONBLOCK | Syscalls.O_CLOEXEC, 0);
        return new NonBlockingFile(path, fd);
    }

    /** The path it was opened at. */
    public Path path() {
        return path;
    }

    /**
     * The file's descriptor, for a queue's thread to wait on ({@link QueueContext#watchReadable});
     * the file still owns it and closes it.
     */
    public int fd() {
        return fd;
    }

    /**
     * {@code ioctl(2)} with a pointer argument ({@link MemorySegment#NULL} for none).
     *
     * @return the call's non-negative result
     * @throws ErrnoException naming the request and the errno
     */
    public int ioctl(Ioctl request, MemorySegment argument) throws ErrnoException {
        return Syscalls.ioctl(fd, request, argument);
    }

    /**
     * {@code ioctl(2)} whose argument is a number passed by value, not a pointer (e.g. the TUN
     * driver's {@code TUNSETOFFLOAD}).
     *
     * @return the call's non-negative result
     * @throws ErrnoException naming the request and the errno
     */
    public int ioctl(Ioctl request, long value) throws ErrnoException {
        // The C argument is one machine word either way: a number travels as the "address".
        return Syscalls.ioctl(fd, request, MemorySegment.ofAddress(value));
    }

    /**
     * Reads at most {@code length} bytes into {@code buffer}.
     *
     * @return bytes read (for a TAP: one whole frame), 0 at end of file, -1 if nothing is ready
     */
    public long read(MemorySegment buffer, long length) throws ErrnoException {
        return Syscalls.readIfReady(fd, buffer, length);
    }

    /**
     * Writes the first {@code length} bytes of {@code buffer}.
     *
     * @return bytes written (for a TAP: the whole frame), -1 if the file cannot take them now
     */
    public long write(MemorySegment buffer, long length) throws ErrnoException {
        try {
            return Syscalls.write(fd, buffer, length);
        } catch (ErrnoException e) {
            // An exception per refused write: a full file is the drop path, not the hot one.
            if (e.errno() == Errno.EAGAIN) {
                return -1;
            }
            throw e;
        }
    }

    /**
     * Waits at most {@code timeoutMillis} (0: not at all) for something to read.
     *
     * @return whether a read would not block (data, end of file or an error to report)
     */
    public boolean awaitReadable(int timeoutMillis) throws ErrnoException {
        return await(readPoll, timeoutMillis);
    }

    /**
     * Waits at most {@code timeoutMillis} (0: not at all) for room to write.
     *
     * @return whether a write would not block
     */
    public boolean awaitWritable(int timeoutMillis) throws ErrnoException {
        return await(writePoll, timeoutMillis);
    }

    private static boolean await(MemorySegment poll, int timeoutMillis) throws ErrnoException {
        if (timeoutMillis < 0) {
            throw new IllegalArgumentException("a wait must be bounded: " + timeoutMillis + " ms");
        }
        return Syscalls.poll(poll, 1, timeoutMillis) > 0;
    }

    /** Closes the file; nothing the second time. */
    @Override
    public synchronized void close() throws ErrnoException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Syscalls.close(fd);
        } finally {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "NonBlockingFile[" + path + ", fd " + fd + "]";
    }
}
