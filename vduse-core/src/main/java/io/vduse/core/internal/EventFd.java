package io.vduse.core.internal;

import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Syscalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A non-blocking eventfd with its own 8-byte buffer, for kicks, wake-ups and interrupts. */
public final class EventFd implements AutoCloseable {

    private final int fd;
    private final MemorySegment value = Arena.ofAuto().allocate(ValueLayout.JAVA_LONG);
    private boolean closed;

    /** Creates a non-blocking, close-on-exec eventfd. */
    public EventFd() throws ErrnoException {
        fd = Syscalls.eventfd(0, Syscalls.EFD_NONBLOCK | Syscalls.EFD_CLOEXEC);
    }

    /** The descriptor. */
    public int fd() {
        return fd;
    }

    /**
     * Adds one to the counter, waking whoever polls it; nothing once closed (under the same lock
     * as {@link #close}, so a late signal never writes to a descriptor number reused since).
     */
    public synchronized void signal() throws ErrnoException {
        if (closed) {
            return;
        }
        value.set(ValueLayout.JAVA_LONG, 0, 1L);
        Syscalls.write(fd, value, 8);
    }

    /** Reads and clears the counter; 0 if it was clear. Call from one thread only. */
    public long drain() throws ErrnoException {
        // An empty eventfd is the common case (a worker drains its kick and its wake-up fd on
        // every pass): no exception for it, so that draining allocates nothing.
        if (Syscalls.readIfReady(fd, value, 8) < 0) {
            return 0;
        }
        return value.get(ValueLayout.JAVA_LONG, 0);
    }

    @Override
    public synchronized void close() throws ErrnoException {
        if (!closed) {
            closed = true;
            Syscalls.close(fd);
        }
    }
}
