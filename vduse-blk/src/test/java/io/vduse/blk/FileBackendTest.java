package io.vduse.blk;

import static io.vduse.blk.BlkRig.range;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.virtqueue.IoVectors;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * by someone else is announced, data moves straight between the file and the driver's buffers
 * where it can, and opening refuses what it must.
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
    void requestsMoveStraightBetweenTheFileAndTheDriversBuffers() throws Exception {
        Path file = dir.resolve("vectors.img");
        byte[] big = random(1 << 20);
        byte[] small = Arrays.copyOfRange(random(8192), 4096, 8192);
        CountingBackend backend = new CountingBackend(FileBackend.open(file, false, false, 4L << 20));
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-vectors"), backend)) {
            assertThat(rig.write(0, 2048, big)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.write(0, 7, small)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(0, 2048, big.length)).isEqualTo(big);
            assertThat(rig.read(0, 7, small.length)).isEqualTo(small);
            assertThat(backend.vectorWrites).hasValue(2);
            assertThat(backend.vectorReads).hasValue(2);
            assertThat(backend.copiedWrites).hasValue(0);
            assertThat(backend.copiedReads).hasValue(0);
        }
        byte[] onDisk = Files.readAllBytes(file);
        assertThat(Arrays.copyOfRange(onDisk, 1 << 20, 2 << 20)).isEqualTo(big);
        assertThat(Arrays.copyOfRange(onDisk, 7 * 512, 7 * 512 + 4096)).isEqualTo(small);
    }

    @Test
    void vectoredTransfersSpanPiecesAndStopAtTheEndOfTheFile() throws Exception {
        Path file = dir.resolve("pieces.img");
        int[] sizes = {4096, 100, 3000};
        byte[] data = random(7196);
        try (FileBackend backend = FileBackend.open(file, false, false, 16384); Arena arena = Arena.ofConfined()) {
            assertThat(backend.vectorAlignment()).isEqualTo(1);
            IoVectors out = new IoVectors(4, 1);
            IoVectors in = new IoVectors(4, 1);
            MemorySegment[] back = new MemorySegment[sizes.length];
            int at = 0;
            for (int i = 0; i < sizes.length; i++) {
                MemorySegment piece = arena.allocate(sizes[i]);
                MemorySegment.copy(data, at, piece, ValueLayout.JAVA_BYTE, 0, sizes[i]);
                out.add(piece.address(), sizes[i]);
                back[i] = arena.allocate(sizes[i]);
                in.add(back[i].address(), sizes[i]);
                at += sizes[i];
            }
            backend.writeVectors(1000, out);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(file), 1000, 1000 + data.length)).isEqualTo(data);
            backend.readVectors(1000, in);
            byte[] again = new byte[data.length];
            at = 0;
            for (int i = 0; i < sizes.length; i++) {
                MemorySegment.copy(back[i], ValueLayout.JAVA_BYTE, 0, again, at, sizes[i]);
                at += sizes[i];
            }
            assertThat(again).isEqualTo(data);

            // 4000 bytes are left after this offset: a short read, then the end of the file.
            IoVectors past = new IoVectors(4, 1);
            for (MemorySegment b : back) {
                past.add(b.address(), b.byteSize());
            }
            assertThatThrownBy(() -> backend.readVectors(16384 - 4000, past))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("end of file at 16384 while reading 7196 bytes at 12384");
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
        CountingBackend counting = new CountingBackend(backend);
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-direct"), counting)) {
            assertThat(backend.describe()).contains("O_DIRECT");
            // What the kernel says O_DIRECT needs (address and length of every piece), else a page.
            long alignment = backend.vectorAlignment();
            assertThat(Long.bitCount(alignment)).isEqualTo(1);
            if (backend.directAlignment() == 0) {
                assertThat(alignment).isEqualTo(BlockBackend.BUFFER_ALIGNMENT);
            } else {
                assertThat(alignment).isGreaterThanOrEqualTo(backend.directAlignment());
            }
            assertThat(rig.write(0, 3, data)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(0, 3, data.length)).isEqualTo(data);
            if (data.length % alignment != 0) {
                // 8704 bytes is off what O_DIRECT vectors need here: both went through the buffer.
                assertThat(counting.copiedWrites).hasValue(1);
                assertThat(counting.copiedReads).hasValue(1);
                assertThat(counting.vectorWrites).hasValue(0);
            } else {
                // A disk of 512-byte blocks takes the pieces as they are: no copy.
                assertThat(counting.vectorWrites).hasValue(1);
                assertThat(counting.copiedWrites).hasValue(0);
            }
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
