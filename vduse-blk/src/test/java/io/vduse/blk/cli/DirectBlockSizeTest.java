package io.vduse.blk.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.blk.FileBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * With {@code --direct}, the logical block size the device advertises follows the disk's
 * alignment: taken when not given, refused when finer, so that every request can go to the disk
 * as it is.
 */
class DirectBlockSizeTest {

    @Test
    void notGivenItIsTheDisksAlignmentOr512() throws Exception {
        assertThat(Backends.logicalBlockSize(0, null, "memory")).isEqualTo(512);
        assertThat(Backends.logicalBlockSize(512, null, "a 512e disk")).isEqualTo(512);
        assertThat(Backends.logicalBlockSize(4096, null, "a 4Kn disk")).isEqualTo(4096);
    }

    @Test
    void givenItMustBeAWholeNumberOfTheAlignment() throws Exception {
        assertThat(Backends.logicalBlockSize(4096, 4096, "a 4Kn disk")).isEqualTo(4096);
        assertThat(Backends.logicalBlockSize(512, 2048, "a 512e disk")).isEqualTo(2048);
        assertThat(Backends.logicalBlockSize(0, 1024, "memory")).isEqualTo(1024);
        assertThatThrownBy(() -> Backends.logicalBlockSize(4096, 512, "block device /dev/nvme0n1 (O_DIRECT)"))
                .isInstanceOf(IOException.class)
                .hasMessage("--logical-block-size 512 is finer than the 4096-byte alignment O_DIRECT needs on "
                        + "block device /dev/nvme0n1 (O_DIRECT): give --logical-block-size 4096, or leave it out");
        assertThatThrownBy(() -> Backends.logicalBlockSize(8192, null, "a disk"))
                .isInstanceOf(IOException.class).hasMessageContaining("above the largest logical block size, 4096");
    }

    @Test
    void aFileOpenedWithDirectIoSaysItsAlignment() throws Exception {
        Path dir = Files.createDirectories(Path.of("target"));
        Path file = dir.resolve("direct-alignment.img");
        Files.deleteIfExists(file);
        FileBackend backend;
        try {
            backend = FileBackend.open(file, false, true, 1 << 20);
        } catch (IOException e) {
            Assumptions.abort("no O_DIRECT on the build directory's file system: " + e.getMessage());
            return;
        }
        try (backend) {
            long alignment = backend.directAlignment();
            Assumptions.assumeTrue(alignment > 0, "this kernel does not say (STATX_DIOALIGN is Linux 6.1 on)");
            assertThat(Long.bitCount(alignment)).isEqualTo(1);
            assertThat(alignment).isBetween(512L, 65536L);
            assertThat(backend.vectorAlignment()).isGreaterThanOrEqualTo(alignment);
            assertThat(Backends.logicalBlockSize(backend, null)).isEqualTo((int) Math.max(512, alignment));
        } finally {
            Files.deleteIfExists(file);
        }
        try (FileBackend buffered = FileBackend.open(file, false, false, 1 << 20)) {
            assertThat(buffered.directAlignment()).isZero();
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
