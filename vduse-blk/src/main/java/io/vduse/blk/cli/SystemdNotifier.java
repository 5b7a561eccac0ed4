package io.vduse.blk.cli;

import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Sockets;
import io.vduse.core.internal.linux.Syscalls;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * The service manager's notification protocol ({@code sd_notify(3)}): when systemd (or anything
 * speaking the protocol) started this process with {@code NOTIFY_SOCKET} set, each
 * {@link #notify} sends one datagram of {@code KEY=VALUE} lines to that {@code AF_UNIX} socket,
 * e.g. {@code READY=1}. The path may name the abstract namespace ({@code @name}). Without
 * {@code NOTIFY_SOCKET} it does nothing.
 *
 * <p>The socket is a datagram socket, which the JDK's channels do not offer for {@code AF_UNIX}
 * (they have streams only), so the calls go through vduse-core's FFM layer. A notification that
 * cannot be sent is reported on the error stream, never fatal: the device serves on either way.
 */
final class SystemdNotifier implements AutoCloseable {

    private final String socketPath;
    private final PrintWriter err;
    private final Arena arena;
    private final MemorySegment address;
    private final int addressLength;
    private final int fd;

    private SystemdNotifier(String socketPath, PrintWriter err, Arena arena, MemorySegment address, int addressLength,
            int fd) {
        this.socketPath = socketPath;
        this.err = err;
        this.arena = arena;
        this.address = address;
        this.addressLength = addressLength;
        this.fd = fd;
    }

    /**
     * A notifier to the socket {@code notifySocket} names ({@code NOTIFY_SOCKET}'s value), or one
     * that does nothing when it is null or empty, or when the socket cannot be used (said on
     * {@code err}: a {@code vsock:} address, a path too long for {@code sun_path}).
     */
    static SystemdNotifier to(String notifySocket, PrintWriter err) {
        if (notifySocket == null || notifySocket.isEmpty()) {
            return new SystemdNotifier(null, err, null, null, 0, -1);
        }
        if (!notifySocket.startsWith("/") && !notifySocket.startsWith("@")) {
            err.println("vduse-blk: NOTIFY_SOCKET=" + notifySocket + " is neither a path nor an abstract socket "
                    + "(@name); not notifying the service manager");
            err.flush();
            return new SystemdNotifier(null, err, null, null, 0, -1);
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment address = arena.allocate(Sockets.SOCKADDR_UN_SIZE, 2);
            int length = Sockets.unixAddress(notifySocket, address);
            int fd = Sockets.socket(Sockets.AF_UNIX, Sockets.SOCK_DGRAM | Sockets.SOCK_CLOEXEC, 0);
            return new SystemdNotifier(notifySocket, err, arena, address, length, fd);
        } catch (ErrnoException | IllegalArgumentException e) {
            arena.close();
            err.println("vduse-blk: cannot notify the service manager at NOTIFY_SOCKET=" + notifySocket + ": "
                    + e.getMessage());
            err.flush();
            return new SystemdNotifier(null, err, null, null, 0, -1);
        }
    }

    /** Whether notifications go anywhere. */
    boolean active() {
        return fd >= 0;
    }

    /** Sends {@code assignments} ({@code READY=1}, {@code STATUS=...}) as one datagram, one per line. */
    synchronized void notify(String... assignments) {
        if (fd < 0) {
            return;
        }
        byte[] message = String.join("\n", assignments).getBytes(StandardCharsets.UTF_8);
        try (Arena call = Arena.ofConfined()) {
            MemorySegment data = call.allocate(Math.max(1, message.length));
            MemorySegment.copy(message, 0, data, ValueLayout.JAVA_BYTE, 0, message.length);
            Sockets.sendTo(fd, data, message.length, address, addressLength, "NOTIFY_SOCKET " + socketPath);
        } catch (ErrnoException e) {
            err.println("vduse-blk: cannot notify the service manager (" + String.join(", ", assignments) + "): "
                    + e.getMessage());
            err.flush();
        }
    }

    @Override
    public synchronized void close() {
        if (fd < 0) {
            return;
        }
        try {
            Syscalls.close(fd);
        } catch (ErrnoException ignored) {
            // the descriptor is gone either way
        }
        arena.close();
    }
}
