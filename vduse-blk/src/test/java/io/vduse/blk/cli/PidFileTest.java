package io.vduse.blk.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --pidfile: written whole, refused while another running process holds it, removed only if ours. */
class PidFileTest {

    @TempDir
    Path dir;

    private final long self = ProcessHandle.current().pid();

    @Test
    void itHoldsThePidAndANewlineAndGoesAtRemove() throws IOException {
        Path path = dir.resolve("blk.pid");
        PidFile pidFile = PidFile.claim(path, self);
        assertThat(path).doesNotExist(); // written only once ready
        pidFile.write();
        assertThat(Files.readString(path)).isEqualTo(self + "\n");
        assertThat(dir.toFile().list()).containsExactly("blk.pid"); // no temporary left
        pidFile.remove();
        assertThat(path).doesNotExist();
    }

    @Test
    void aRunningProcesssPidfileIsRefusedAndAStaleOneReplaced() throws Exception {
        Path path = dir.resolve("blk.pid");
        Process other = new ProcessBuilder("sleep", "30").start();
        try {
            Files.writeString(path, other.pid() + "\n");
            assertThatThrownBy(() -> PidFile.claim(path, self)).isInstanceOf(IOException.class)
                    .hasMessageContaining("names process " + other.pid() + ", which is running");
        } finally {
            other.destroy();
            other.waitFor();
        }
        PidFile pidFile = PidFile.claim(path, self); // the process is gone: a leftover
        pidFile.write();
        assertThat(Files.readString(path)).isEqualTo(self + "\n");
        Files.writeString(path, "garbage");
        PidFile.claim(path, self);
    }

    @Test
    void anotherProcesssFileIsNotRemovedAndAMissingDirectoryIsRefused() throws IOException {
        Path path = dir.resolve("blk.pid");
        PidFile pidFile = PidFile.claim(path, self);
        pidFile.write();
        Files.writeString(path, "1\n"); // taken over since
        pidFile.remove();
        assertThat(Files.readString(path)).isEqualTo("1\n");
        assertThatThrownBy(() -> PidFile.claim(dir.resolve("no/such/dir.pid"), self))
                .hasMessageContaining("does not exist");
    }
}
