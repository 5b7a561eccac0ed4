package io.vduse.blk;

import static io.vduse.blk.BlkRig.header;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests larger than what the device advertises ({@code size_max}, {@code seg_max}) are served,
 * as real drivers send them (libblkio through vhost-vdpa does not split by {@code size_max}):
 * those values are hints to the driver, and only the chain and the capacity bound a request.
 */
class LargeRequestTest {

    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private static byte[] random(int length, long seed) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }

    /** Writes 4 MiB in one buffer at sector 2048 (1 MiB), reads it back in one buffer. */
    private static byte[] fourMebibytesThereAndBack(BlkRig rig) throws Exception {
        byte[] data = random(4 * MIB, 4);
        assertThat(4 * MIB).isGreaterThan(BlkConfigSpace.SIZE_MAX);
        assertThat(rig.write(0, 2048, data)).isEqualTo(VirtioBlk.S_OK);
        assertThat(rig.read(0, 2048, data.length)).isEqualTo(data);
        return data;
    }

    @Test
    void aFourMebibyteBufferIsServedByMemory() throws Exception {
        MemoryBackend memory = new MemoryBackend(8L * MIB);
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-4m-mem"), memory)) {
            byte[] data = fourMebibytesThereAndBack(rig);
            byte[] stored = new byte[data.length];
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buffer = arena.allocate(data.length);
                memory.read(MIB, buffer, data.length);
                MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, stored, 0, data.length);
            }
            assertThat(stored).isEqualTo(data);
        }
    }

    @Test
    void aFourMebibyteBufferIsServedByAFileInOneVectoredCall() throws Exception {
        Path file = dir.resolve("four.img");
        CountingBackend backend = new CountingBackend(FileBackend.open(file, false, false, 8L * MIB));
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-4m-file"), backend)) {
            byte[] data = fourMebibytesThereAndBack(rig);
            assertThat(BlkRig.fileBytes(file, MIB, data.length)).isEqualTo(data);
            assertThat(backend.vectorWrites).hasValue(1);
            assertThat(backend.vectorReads).hasValue(1);
            assertThat(backend.copiedWrites).hasValue(0);
            assertThat(backend.copiedReads).hasValue(0);
        }
    }

    @Test
    void aFourMebibyteBufferIsServedWithDirectIo() throws Exception {
        Path file = dir.resolve("four-direct.img");
        FileBackend direct;
        try {
            direct = FileBackend.open(file, false, true, 8L * MIB);
        } catch (IOException e) {
            Assumptions.abort("no O_DIRECT on this file system: " + e.getMessage());
            return;
        }
        CountingBackend backend = new CountingBackend(direct);
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-4m-direct"), backend)) {
            byte[] data = fourMebibytesThereAndBack(rig);
            assertThat(BlkRig.fileBytes(file, MIB, data.length)).isEqualTo(data);
            // The bounce pages are page aligned and 4 MiB is whole pages: straight through O_DIRECT.
            assertThat(backend.vectorWrites).hasValue(1);
            assertThat(backend.vectorReads).hasValue(1);
        }
    }

    /**
     * 16 MiB in a ring of 16: 15 buffers carry data where {@code seg_max} is 14, the header shares
     * the first with 1 MiB of data, the last is 2 MiB (above {@code size_max}), and the status
     * shares the last writable buffer on the read. The request is the whole chain the ring allows.
     */
    @Test
    void sixteenMebibytesInMoreBuffersThanSegMaxAreServed() throws Exception {
        Path file = dir.resolve("sixteen.img");
        BlkOptions options = BlkOptions.defaults("t-16m").withQueues(1, 16);
        assertThat(BlkConfigSpace.segMax(options)).isEqualTo(14);
        CountingBackend backend = new CountingBackend(FileBackend.open(file, false, false, 32L * MIB));
        SimulatedDriver.Options ring = SimulatedDriver.Options.defaults().withQueueSize(16);
        byte[] data = random(16 * MIB, 16);
        long sector = 8 * MIB / VirtioBlk.SECTOR_SIZE;
        try (BlkRig rig = new BlkRig(options, backend, ring)) {
            List<byte[]> readable = new ArrayList<>();
            byte[] first = new byte[16 + MIB];
            System.arraycopy(header(VirtioBlk.T_OUT, sector), 0, first, 0, 16);
            System.arraycopy(data, 0, first, 16, MIB);
            readable.add(first);
            for (int i = 1; i <= 13; i++) {
                readable.add(Arrays.copyOfRange(data, i * MIB, (i + 1) * MIB));
            }
            readable.add(Arrays.copyOfRange(data, 14 * MIB, 16 * MIB));
            assertThat(readable).hasSize(15);
            assertThat(BlkRig.status(rig.submit(0, readable, 1))).isEqualTo(VirtioBlk.S_OK);
            assertThat(BlkRig.fileBytes(file, 8L * MIB, data.length)).isEqualTo(data);

            int[] writable = new int[15];
            Arrays.fill(writable, MIB);
            writable[14] = 2 * MIB + 1;
            Completion c = rig.submit(0, List.of(header(VirtioBlk.T_IN, sector)), writable);
            assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
            byte[] back = new byte[data.length];
            int at = 0;
            for (byte[] buffer : c.writable()) {
                int n = Math.min(buffer.length, back.length - at);
                System.arraycopy(buffer, 0, back, at, n);
                at += n;
            }
            assertThat(at).isEqualTo(data.length);
            assertThat(back).isEqualTo(data);
            assertThat(c.usedLength()).isEqualTo(data.length + 1);
            assertThat(backend.copiedWrites).hasValue(0);
            assertThat(backend.copiedReads).hasValue(0);
        }
    }
}
