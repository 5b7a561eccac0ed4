package io.vduse.blk;

import static io.vduse.blk.BlkRig.range;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.virtio.VirtioBlk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file backend behind the device: data lands in the file, DISCARD and WRITE_ZEROES with
 * UNMAP punch holes (the file's allocated size shrinks, as {@code stat %b} shows), a file grown
 * by someone else is announced, and opening refuses what it must.
 */
class FileBackendTest {

    @TempDir
    Path dir;

    /** Allocated bytes of {@code file}: {@code stat --format=%b} blocks of 512 bytes, as du counts. */
    private static long allocated(Path file) throws Exception {
        Process stat = new ProcessBuilder("stat", "--format=%b", file.toString()).redirectErrorStream(true).start();
        String out = new String(stat.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        assertThat(stat.waitFor()).as(out).isZero();
        return Long.parseLong(out) * 512;
    }

    private static byte[] random(int length) {
        byte[] data = new byte[length];
        new Random(5).nextBytes(data);
        return data;
    }

    @Test
    void dataReachesTheFileAndDiscardPunchesHoles() throws Exception {
        Path file = dir.resolve("disk.img");
        byte[] data = random(4 << 20);
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-file"), FileBackend.open(file, false, false, 8L << 20))) {
            assertThat(Files.size(file)).isEqualTo(8L << 20);
            for (int mib = 0; mib < 4; mib++) {
                assertThat(rig.write(0, mib * 2048L, Arrays.copyOfRange(data, mib << 20, (mib + 1) << 20)))
                        .isEqualTo(VirtioBlk.S_OK);
            }
            assertThat(rig.simple(VirtioBlk.T_FLUSH, 0)).isEqualTo(VirtioBlk.S_OK);
            byte[] onDisk = new byte[4 << 20];
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
                raf.readFully(onDisk);
            }
            assertThat(onDisk).isEqualTo(data);
            long before = allocated(file);
            assertThat(before).isGreaterThanOrEqualTo(4L << 20);

            // Discard the first MiB, write zeroes with UNMAP over the second: two holes.
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(0, 2048, 0))).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(2048, 2048, VirtioBlk.WRITE_ZEROES_FLAG_UNMAP)))
                    .isEqualTo(VirtioBlk.S_OK);
            // Write zeroes without UNMAP over the third: zeros, space kept.
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(4096, 2048, 0))).isEqualTo(VirtioBlk.S_OK);
            long after = allocated(file);
            assertThat(after).as("allocated bytes after punching 2 MiB of holes").isLessThanOrEqualTo(before - (2L << 20));

            assertThat(rig.read(0, 0, 1 << 20)).isEqualTo(new byte[1 << 20]);
            assertThat(rig.read(0, 2048, 1 << 20)).isEqualTo(new byte[1 << 20]);
            assertThat(rig.read(0, 4096, 1 << 20)).isEqualTo(new byte[1 << 20]);
            assertThat(rig.read(0, 6144, 1 << 20)).isEqualTo(Arrays.copyOfRange(data, 3 << 20, 4 << 20));
        }
    }

    @Test
    void aFileGrownBySomeoneElseIsAnnounced() throws Exception {
        Path file = dir.resolve("grow.img");
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-grow"), FileBackend.open(file, false, false, 1L << 20))) {
            int interrupts = rig.driver.configInterrupts();
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(2L << 20);
            }
            assertThat(rig.device.refreshCapacity()).isTrue();
            assertThat(rig.device.capacityBytes()).isEqualTo(2L << 20);
            assertThat(rig.driver.configInterrupts()).isEqualTo(interrupts + 1);
            assertThat(rig.write(0, 4095, new byte[512])).isEqualTo(VirtioBlk.S_OK);
        }
    }

    @Test
    void directIoMovesTheSameBytes() throws Exception {
        Path file = dir.resolve("direct.img");
        FileBackend backend;
        try {
            backend = FileBackend.open(file, false, true, 2L << 20);
        } catch (IOException e) {
            org.junit.jupiter.api.Assumptions.abort("no O_DIRECT on this file system: " + e.getMessage());
            return;
        }
        byte[] data = random(8192 + 512);
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-direct"), backend)) {
            assertThat(backend.describe()).contains("O_DIRECT");
            assertThat(rig.write(0, 3, data)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(0, 3, data.length)).isEqualTo(data);
        }
    }

    @Test
    void openingRefusesAMissingFileWithoutASizeAndNeverShrinks() throws Exception {
        Path missing = dir.resolve("missing.img");
        assertThatThrownBy(() -> FileBackend.open(missing, false, false, 0))
                .isInstanceOf(IOException.class).hasMessageContaining("does not exist");
        Path file = dir.resolve("big.img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(4L << 20);
        }
        assertThatThrownBy(() -> FileBackend.open(file, false, false, 1L << 20))
                .isInstanceOf(IOException.class).hasMessageContaining("refusing to shrink");
        try (FileBackend grown = FileBackend.open(file, false, false, 8L << 20)) {
            assertThat(grown.size()).isEqualTo(8L << 20);
        }
        assertThat(Files.size(file)).isEqualTo(8L << 20);
        assertThatThrownBy(() -> FileBackend.open(Path.of("/dev/null"), false, false, 1L << 20))
                .isInstanceOf(IOException.class).hasMessageContaining("not a regular file");
    }
}
