package io.vduse.core.internal.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.VduseIoctls;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The system calls against the real kernel of the test machine (no VDUSE needed). */
class SyscallsTest {

    @Test
    void eventfdCountsWritesAndPollSeesThem() throws Exception {
        int fd = Syscalls.eventfd(0, Syscalls.EFD_CLOEXEC | Syscalls.EFD_NONBLOCK);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment pollfd = arena.allocate(Syscalls.POLLFD);
            pollfd.set(ValueLayout.JAVA_INT, 0, fd);
            pollfd.set(ValueLayout.JAVA_SHORT, 4, Syscalls.POLLIN);
            assertThat(Syscalls.poll(pollfd, 1, 0)).isZero();

            value.set(ValueLayout.JAVA_LONG, 0, 3);
            Syscalls.write(fd, value, 8);
            value.set(ValueLayout.JAVA_LONG, 0, 4);
            Syscalls.write(fd, value, 8);
            assertThat(Syscalls.poll(pollfd, 1, 1000)).isEqualTo(1);
            assertThat(pollfd.get(ValueLayout.JAVA_SHORT, 6) & Syscalls.POLLIN).isNotZero();

            assertThat(Syscalls.read(fd, value, 8)).isEqualTo(8);
            assertThat(value.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(7);
            assertThatThrownBy(() -> Syscalls.read(fd, value, 8))
                    .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EAGAIN));
        } finally {
            Syscalls.close(fd);
        }
    }

    @Test
    void twoMappingsOfOneMemfdShareTheirBytes() throws Exception {
        long size = 2 * Syscalls.pageSize();
        int fd = Syscalls.memfdCreate("vduse-test", Syscalls.MFD_CLOEXEC);
        try (Arena arena = Arena.ofShared()) {
            Syscalls.ftruncate(fd, size);
            MemorySegment a = map(fd, size, arena);
            MemorySegment b = map(fd, size, arena);
            assertThat(a.address()).isNotEqualTo(b.address());
            a.set(ValueLayout.JAVA_LONG, size - 8, 0x1122334455667788L);
            assertThat(b.get(ValueLayout.JAVA_LONG, size - 8)).isEqualTo(0x1122334455667788L);

            // A punched hole reads back as zeroes through every mapping.
            Syscalls.fallocate(fd, Syscalls.FALLOC_FL_PUNCH_HOLE | Syscalls.FALLOC_FL_KEEP_SIZE,
                    Syscalls.pageSize(), Syscalls.pageSize());
            assertThat(b.get(ValueLayout.JAVA_LONG, size - 8)).isZero();
            assertThat(Syscalls.size(fd)).isEqualTo(size);
        } finally {
            Syscalls.close(fd);
        }
    }

    @SuppressWarnings("restricted") // giving an mmap result its size is what reinterpret is for
    private static MemorySegment map(int fd, long size, Arena arena) throws ErrnoException {
        MemorySegment address = Syscalls.mmap(size, Syscalls.PROT_READ | Syscalls.PROT_WRITE, Syscalls.MAP_SHARED, fd, 0);
        return address.reinterpret(size, arena, s -> {
            try {
                Syscalls.munmap(s, size);
            } catch (ErrnoException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void vectoredIoScattersAndGathersAtAnOffset(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("data");
        int fd = Syscalls.open(file.toString(), Syscalls.O_RDWR | Syscalls.O_CREAT | Syscalls.O_CLOEXEC, 0600);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = arena.allocate(Syscalls.IOVEC, 3);
            MemorySegment[] parts = {arena.allocate(5), arena.allocate(1), arena.allocate(4096)};
            for (int i = 0; i < parts.length; i++) {
                parts[i].fill((byte) ('a' + i));
                iov.set(ValueLayout.ADDRESS, i * Syscalls.IOVEC.byteSize(), parts[i]);
                iov.set(ValueLayout.JAVA_LONG, i * Syscalls.IOVEC.byteSize() + 8, parts[i].byteSize());
            }
            assertThat(Syscalls.pwritev(fd, iov, 3, 100)).isEqualTo(4102);
            byte[] onDisk = Files.readAllBytes(file);
            assertThat(onDisk).hasSize(4202);
            assertThat(onDisk[99]).isZero();
            assertThat(onDisk[100]).isEqualTo((byte) 'a');
            assertThat(onDisk[105]).isEqualTo((byte) 'b');
            assertThat(onDisk[4201]).isEqualTo((byte) 'c');

            for (MemorySegment p : parts) {
                p.fill((byte) 0);
            }
            assertThat(Syscalls.preadv(fd, iov, 3, 100)).isEqualTo(4102);
            assertThat(parts[1].get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 'b');
            assertThat(parts[2].get(ValueLayout.JAVA_BYTE, 4095)).isEqualTo((byte) 'c');
            Syscalls.fdatasync(fd);
        } finally {
            Syscalls.close(fd);
        }
    }

    @Test
    void failuresNameTheOperationAndTheErrno() {
        assertThatThrownBy(() -> Syscalls.open("/nonexistent/vduse", Syscalls.O_RDWR, 0))
                .isInstanceOf(ErrnoException.class)
                .hasMessage("open /nonexistent/vduse: ENOENT (2) No such file or directory");

        assertThatThrownBy(() -> {
            int fd = Syscalls.open("/dev/null", Syscalls.O_RDWR | Syscalls.O_CLOEXEC, 0);
            try (Arena arena = Arena.ofConfined()) {
                Syscalls.ioctl(fd, VduseIoctls.GET_API_VERSION, arena.allocate(8));
            } finally {
                Syscalls.close(fd);
            }
        }).isInstanceOfSatisfying(ErrnoException.class, e -> {
            assertThat(e.errnoName()).isEqualTo("ENOTTY");
            assertThat(e.operation()).isEqualTo("VDUSE_GET_API_VERSION");
            assertThat(e).hasMessageStartingWith("VDUSE_GET_API_VERSION: ENOTTY (25)");
        });
    }

    @Test
    void errnoIsCapturedPerThread() throws Exception {
        // Two threads fail differently at the same time; each must see its own errno.
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<Throwable> wrong = new AtomicReference<>();
        Thread badFd = Thread.ofPlatform().start(() -> repeat(start, wrong, () -> Syscalls.close(987_654), Errno.EBADF));
        Thread noFile = Thread.ofPlatform().start(() -> repeat(start, wrong,
                () -> Syscalls.open("/nonexistent/x", Syscalls.O_RDONLY, 0), Errno.ENOENT));
        start.countDown();
        badFd.join();
        noFile.join();
        assertThat(wrong.get()).isNull();
    }

    private interface Call {
        void run() throws ErrnoException;
    }

    private static void repeat(CountDownLatch start, AtomicReference<Throwable> wrong, Call call, int expected) {
        try {
            start.await();
            for (int i = 0; i < 20_000; i++) {
                try {
                    call.run();
                    wrong.set(new AssertionError("call succeeded"));
                    return;
                } catch (ErrnoException e) {
                    if (e.errno() != expected) {
                        wrong.set(e);
                        return;
                    }
                }
            }
        } catch (InterruptedException e) {
            wrong.set(e);
        }
    }

    @Test
    void heapBuffersAreRefusedBeforeTheCall() {
        assertThatThrownBy(() -> Syscalls.read(0, MemorySegment.ofArray(new byte[8]), 8))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("native memory");
    }

    @Test
    void nativeAccessFlagNamesThisModule() {
        assertThat(NativeAccessCheck.requiredFlag()).isEqualTo("--enable-native-access=io.vduse.core");
        NativeAccessCheck.requireEnabled();
    }
}
