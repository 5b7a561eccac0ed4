package io.vduse.blk;

import static io.vduse.blk.BlkRig.header;
import static io.vduse.blk.BlkRig.range;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.blk.QueueCounters.Counter;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Every request type the device knows, answered over the simulated kernel, and the offer it makes. */
class RequestTypesTest {

    private static final long SIZE = 4L << 20;

    private static byte[] random(int length, long seed) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }

    @Test
    void offersTheFeaturesAndConfigOfTheIssue() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-offer").withQueues(2, 128).withPackedRing(true),
                new MemoryBackend(SIZE))) {
            long features = rig.driver.negotiatedFeatures();
            for (int bit : new int[] {VirtioBlk.F_SIZE_MAX, VirtioBlk.F_SEG_MAX, VirtioBlk.F_BLK_SIZE,
                    VirtioBlk.F_TOPOLOGY, VirtioBlk.F_FLUSH, VirtioBlk.F_MQ, VirtioBlk.F_DISCARD,
                    VirtioBlk.F_WRITE_ZEROES, VirtioFeatures.VERSION_1, VirtioFeatures.ACCESS_PLATFORM,
                    VirtioFeatures.EVENT_IDX, VirtioFeatures.INDIRECT_DESC, VirtioFeatures.RING_PACKED}) {
                assertThat(VirtioFeatures.has(features, bit)).as("feature bit %d", bit).isTrue();
            }
            assertThat(VirtioFeatures.has(features, VirtioBlk.F_RO)).isFalse();
            assertThat(VirtioFeatures.has(features, VirtioBlk.F_CONFIG_WCE)).isFalse();
            VirtioBlkConfig config = VirtioBlkConfig.readFrom(MemorySegment.ofArray(rig.driver.config()));
            assertThat(config.capacity()).isEqualTo(SIZE / 512);
            assertThat(config.numQueues()).isEqualTo(2);
            assertThat(config.segMax()).isEqualTo(126);
            assertThat(config.sizeMax()).isEqualTo(BlkConfigSpace.SIZE_MAX);
            assertThat(config.blkSize()).isEqualTo(512);
            assertThat(config.maxDiscardSeg()).isEqualTo(BlkConfigSpace.MAX_ZEROING_SEGMENTS);
            assertThat(config.writeZeroesMayUnmap()).isEqualTo(1);
        }
    }

    @Test
    void packedRingsAreOfferedByDefaultAndNotWhenTurnedOff() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-packed"), new MemoryBackend(SIZE))) {
            assertThat(VirtioFeatures.has(rig.driver.negotiatedFeatures(), VirtioFeatures.RING_PACKED)).isTrue();
        }
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-split").withPackedRing(false), new MemoryBackend(SIZE))) {
            assertThat(VirtioFeatures.has(rig.driver.negotiatedFeatures(), VirtioFeatures.RING_PACKED)).isFalse();
        }
    }

    @Test
    void writesReadBackOnEveryQueueAndRingLayout() throws Exception {
        for (boolean packed : new boolean[] {false, true}) {
            try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-rw").withQueues(2, 64).withPackedRing(packed),
                    new MemoryBackend(SIZE),
                    io.vduse.core.sim.SimulatedDriver.Options.defaults().withQueueSize(64))) {
                assertThat(VirtioFeatures.has(rig.driver.negotiatedFeatures(), VirtioFeatures.RING_PACKED))
                        .isEqualTo(packed);
                byte[] data = random(3 * 4096 + 512, 1);
                assertThat(rig.write(0, 100, data)).isEqualTo(VirtioBlk.S_OK);
                assertThat(rig.read(1, 100, data.length)).isEqualTo(data);
                // A request larger than the scratch buffer goes through in several chunks.
                byte[] big = random(BlkConfigSpace.SIZE_MAX, 2);
                assertThat(rig.write(1, 2048, big)).isEqualTo(VirtioBlk.S_OK);
                assertThat(rig.read(0, 2048, big.length)).isEqualTo(big);
                // Data split over several buffers, header and data sharing the first.
                byte[] joined = new byte[16 + 1024];
                System.arraycopy(header(VirtioBlk.T_OUT, 8), 0, joined, 0, 16);
                System.arraycopy(data, 0, joined, 16, 1024);
                Completion c = rig.submit(0, List.of(joined, Arrays.copyOfRange(data, 1024, 2048)), 1);
                assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
                Completion r = rig.submit(0, List.of(header(VirtioBlk.T_IN, 8)), 700, 1348, 1);
                assertThat(BlkRig.status(r)).isEqualTo(VirtioBlk.S_OK);
                byte[] back = new byte[2048];
                System.arraycopy(r.writable().get(0), 0, back, 0, 700);
                System.arraycopy(r.writable().get(1), 0, back, 700, 1348);
                assertThat(back).isEqualTo(Arrays.copyOf(data, 2048));
                assertThat(r.usedLength()).isEqualTo(2049);
                assertThat(rig.device.counters(0).get(Counter.WRITES) + rig.device.counters(1).get(Counter.WRITES))
                        .isEqualTo(3);
            }
        }
    }

    @Test
    void flushReachesTheBackendAndGetIdAnswersTheSerial() throws Exception {
        CountingBackend backend = new CountingBackend(new MemoryBackend(SIZE));
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-id").withSerial("serial-0123456789ab"), backend)) {
            assertThat(rig.simple(VirtioBlk.T_FLUSH, 0)).isEqualTo(VirtioBlk.S_OK);
            assertThat(backend.flushes).hasValue(1);
            Completion id = rig.submit(0, List.of(header(VirtioBlk.T_GET_ID, 0)), VirtioBlk.ID_BYTES, 1);
            assertThat(BlkRig.status(id)).isEqualTo(VirtioBlk.S_OK);
            assertThat(new String(id.writable().get(0), StandardCharsets.US_ASCII)).isEqualTo("serial-0123456789ab\0");
        }
    }

    @Test
    void discardAndWriteZeroesLeaveZeros() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-zero"), new MemoryBackend(SIZE))) {
            byte[] data = random(64 * 512, 3);
            assertThat(rig.write(0, 0, data)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(0, 8, 0), range(16, 8, 0))).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(32, 8, 0))).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(48, 8, VirtioBlk.WRITE_ZEROES_FLAG_UNMAP)))
                    .isEqualTo(VirtioBlk.S_OK);
            byte[] back = rig.read(0, 0, data.length);
            for (int sector = 0; sector < 64; sector++) {
                boolean zeroed = sector < 8 || (sector >= 16 && sector < 24) || (sector >= 32 && sector < 40)
                        || (sector >= 48 && sector < 56);
                byte[] expected = zeroed ? new byte[512] : Arrays.copyOfRange(data, sector * 512, sector * 512 + 512);
                assertThat(Arrays.copyOfRange(back, sector * 512, sector * 512 + 512)).as("sector %d", sector)
                        .isEqualTo(expected);
            }
            assertThat(rig.device.counters(0).get(Counter.DISCARDS)).isEqualTo(1);
            assertThat(rig.device.counters(0).get(Counter.WRITE_ZEROES)).isEqualTo(2);
        }
    }

    @Test
    void unknownTypesAreUnsupported() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-unsupp"), new MemoryBackend(SIZE))) {
            for (int type : new int[] {VirtioBlk.T_GET_LIFETIME, VirtioBlk.T_SECURE_ERASE, 2, 3, 99, -1}) {
                assertThat(rig.simple(type, 0)).as("type %d", type).isEqualTo(VirtioBlk.S_UNSUPP);
            }
            assertThat(rig.device.counters(0).get(Counter.UNSUPPORTED)).isEqualTo(6);
            // and the queue goes on
            assertThat(rig.write(0, 0, new byte[512])).isEqualTo(VirtioBlk.S_OK);
        }
    }
}
