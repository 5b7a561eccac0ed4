package io.vduse.core.internal.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.core.DeviceBrokenException;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LinuxVduseFile#awaitReadable} over real descriptors of the test machine. No VDUSE
 * device is needed: the kernel reports {@code POLLERR} and {@code POLLHUP} for a FIFO's ends as
 * {@code vduse_dev_poll} reports {@code POLLERR} for a broken device, unasked and at once.
 */
class LinuxVduseFileTest {

    /** Far longer than the test may take: an {@code awaitReadable} that waits it out has failed. */
    private static final int LONG_WAIT_MILLIS = 60_000;

    @TempDir
    Path dir;

    private Path fifo() throws Exception {
        Path path = dir.resolve("fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", path.toString()).inheritIO().start();
        assertThat(mkfifo.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(mkfifo.exitValue()).isZero();
        return path;
    }

    @Test
    void pollErrSaysTheDeviceIsBroken() throws Exception {
        Path path = fifo();
        int reader = Syscalls.open(path.toString(), Syscalls.O_RDONLY | Syscalls.O_NONBLOCK | Syscalls.O_CLOEXEC, 0);
        int writer = Syscalls.open(path.toString(), Syscalls.O_WRONLY | Syscalls.O_NONBLOCK | Syscalls.O_CLOEXEC, 0);
        Syscalls.close(reader);
        // A FIFO's write end without a reader polls POLLERR, whatever was asked for.
        LinuxVduseFile file = new LinuxVduseFile(writer, path.toString());
        try {
            assertThatThrownBy(() -> file.awaitReadable(LONG_WAIT_MILLIS)).isInstanceOfSatisfying(
                    DeviceBrokenException.class, e -> {
                        assertThat(e.events()).isEqualTo("POLLERR");
                        assertThat(e.file()).isEqualTo(path.toString());
                    });
        } finally {
            file.close();
        }
    }

    @Test
    void pollHupSaysTheDeviceIsBrokenAndPollInIsAMessage() throws Exception {
        Path path = fifo();
        int reader = Syscalls.open(path.toString(), Syscalls.O_RDONLY | Syscalls.O_NONBLOCK | Syscalls.O_CLOEXEC, 0);
        int writer = Syscalls.open(path.toString(), Syscalls.O_WRONLY | Syscalls.O_NONBLOCK | Syscalls.O_CLOEXEC, 0);
        LinuxVduseFile file = new LinuxVduseFile(reader, path.toString());
        try (Arena arena = Arena.ofConfined()) {
            assertThat(file.awaitReadable(0)).isFalse();
            MemorySegment one = arena.allocate(1);
            Syscalls.write(writer, one, 1);
            assertThat(file.awaitReadable(LONG_WAIT_MILLIS)).isTrue();
            file.read(one, 1);
            // The last writer gone, the read end polls POLLHUP.
            Syscalls.close(writer);
            assertThatThrownBy(() -> file.awaitReadable(LONG_WAIT_MILLIS)).isInstanceOfSatisfying(
                    DeviceBrokenException.class, e -> assertThat(e.events()).isEqualTo("POLLHUP"));
        } finally {
            file.close();
        }
    }

    @Test
    void aDescriptorThatIsNotOpenIsEbadfNotSilence() {
        // poll answers POLLNVAL for a number no file has; far above any descriptor this JVM opens.
        LinuxVduseFile file = new LinuxVduseFile(0x3fff_fff0, "/dev/vduse/none");
        assertThatThrownBy(() -> file.awaitReadable(LONG_WAIT_MILLIS)).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
    }
}
