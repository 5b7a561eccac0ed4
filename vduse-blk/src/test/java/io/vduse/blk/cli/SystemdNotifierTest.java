package io.vduse.blk.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Sockets;
import io.vduse.core.internal.linux.Syscalls;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * sd_notify against a datagram socket of the test's own, bound at a path and in the abstract
 * namespace. That the test's socket sits where the name says is checked apart from the code under
 * test: the path's socket file exists, the abstract name is listed in {@code /proc/net/unix}.
 */
class SystemdNotifierTest {

    @TempDir
    Path dir;

    @Test
    void aPathSocketGetsReadyStatusAndMainPidInOneDatagram() throws Exception {
        Path path = dir.resolve("notify");
        try (Listener listener = new Listener(path.toString())) {
            assertThat(Files.exists(path)).as("the listener's socket file").isTrue();
            StringWriter err = new StringWriter();
            try (SystemdNotifier notifier = SystemdNotifier.to(path.toString(), new PrintWriter(err))) {
                assertThat(notifier.active()).isTrue();
                notifier.notify("READY=1", "STATUS=Serving blk0", "MAINPID=42");
                notifier.notify("STOPPING=1");
            }
            assertThat(listener.receive()).isEqualTo("READY=1\nSTATUS=Serving blk0\nMAINPID=42");
            assertThat(listener.receive()).isEqualTo("STOPPING=1");
            assertThat(err.toString()).isEmpty();
        }
    }

    @Test
    void anAbstractSocketIsReachedByItsExactName() throws Exception {
        String name = "@vduse-blk-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        try (Listener listener = new Listener(name)) {
            assertThat(Files.readAllLines(Path.of("/proc/net/unix"))).as("/proc/net/unix")
                    .anyMatch(line -> line.endsWith(" " + name));
            try (SystemdNotifier notifier = SystemdNotifier.to(name, new PrintWriter(new StringWriter()))) {
                notifier.notify("READY=1");
            }
            assertThat(listener.receive()).isEqualTo("READY=1");
        }
        // A name one byte longer is another socket: nobody listens there.
        StringWriter err = new StringWriter();
        try (SystemdNotifier notifier = SystemdNotifier.to(name + "x", new PrintWriter(err))) {
            notifier.notify("READY=1");
        }
        assertThat(err.toString()).contains("cannot notify").contains("ECONNREFUSED");
    }

    @Test
    void withoutNotifySocketNothingIsSentAndAnUnusableOneIsSaidOnce() {
        assertThat(SystemdNotifier.to(null, new PrintWriter(new StringWriter())).active()).isFalse();
        assertThat(SystemdNotifier.to("", new PrintWriter(new StringWriter())).active()).isFalse();
        StringWriter err = new StringWriter();
        SystemdNotifier vsock = SystemdNotifier.to("vsock:2:1234", new PrintWriter(err));
        assertThat(vsock.active()).isFalse();
        vsock.notify("READY=1");
        assertThat(err.toString()).contains("NOTIFY_SOCKET=vsock:2:1234").contains("not notifying");
        StringWriter tooLong = new StringWriter();
        assertThat(SystemdNotifier.to("/" + "x".repeat(200), new PrintWriter(tooLong)).active()).isFalse();
        assertThat(tooLong.toString()).contains("cannot notify");
    }

    @Test
    void unixAddressesAreLaidOutAsTheKernelReadsThem() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = arena.allocate(Sockets.SOCKADDR_UN_SIZE);
            assertThat(Sockets.unixAddress("/run/n", address)).isEqualTo(2 + 6 + 1);
            assertThat(address.get(ValueLayout.JAVA_SHORT, 0)).isEqualTo((short) Sockets.AF_UNIX);
            assertThat(address.getString(2)).isEqualTo("/run/n");
            // Abstract: a NUL first, the name after it, and no NUL counted at the end.
            assertThat(Sockets.unixAddress("@abc", address)).isEqualTo(2 + 4);
            assertThat(address.get(ValueLayout.JAVA_BYTE, 2)).isZero();
            assertThat(address.getString(3)).isEqualTo("abc");
            assertThatThrownBy(() -> Sockets.unixAddress("@", address)).isInstanceOf(IllegalArgumentException.class);
            assertThat(Sockets.unixAddress("/" + "p".repeat(106), address)).isEqualTo(110);
            assertThatThrownBy(() -> Sockets.unixAddress("/" + "p".repeat(107), address))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** The service manager's side: a bound AF_UNIX datagram socket that receives with a timeout. */
    private static final class Listener implements AutoCloseable {
        private final int fd;
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment buffer = arena.allocate(4096);

        Listener(String name) throws ErrnoException {
            fd = Sockets.socket(Sockets.AF_UNIX, Sockets.SOCK_DGRAM | Sockets.SOCK_CLOEXEC, 0);
            MemorySegment address = arena.allocate(Sockets.SOCKADDR_UN_SIZE);
            Sockets.bind(fd, address, Sockets.unixAddress(name, address), name);
            Sockets.receiveTimeout(fd, 5_000);
        }

        String receive() throws ErrnoException {
            try {
                int n = (int) Sockets.receive(fd, buffer, "listener");
                return new String(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EAGAIN) {
                    throw new AssertionError("no datagram in 5 s", e);
                }
                throw e;
            }
        }

        @Override
        public void close() throws ErrnoException {
            Syscalls.close(fd);
            arena.close();
        }
    }
}
