package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.VqState;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * One request at a time on every ring layout and descriptor form, past several wraps of a small
 * ring, with the state the kernel would read back ({@code GET_VQ_STATE}) checked at the end.
 */
class EveryRingLayoutTest {

    @ParameterizedTest(name = "packed={0} indirect={1} eventIdx={2}")
    @CsvSource({
        "false,false,false", "false,false,true", "false,true,true",
        "true,false,false", "true,false,true", "true,true,true"})
    void serialRequestsWrapTheRing(boolean packed, boolean indirect, boolean eventIdx) throws Exception {
        SimulatedKernel kernel = new SimulatedKernel();
        long features = VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
                | (eventIdx ? VirtioFeatures.bit(VirtioFeatures.EVENT_IDX) : 0)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment disk = arena.allocate(1 << 20);
            try (VduseDevice device = VduseDevice.builder("layout").kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                    .features(features).config(VirtioBlkConfig.ofCapacity(2048).toBytes()).queues(1, 8)
                    .handler(new RamBlockHandler(disk, "layout")).start();
                    SimulatedDriver driver = SimulatedDriver.attach(kernel, "layout",
                            SimulatedDriver.Options.defaults().withQueueSize(8).withIndirect(indirect))) {
                BlockClient blk = new BlockClient(driver);
                Random random = new Random(31);
                int requests = 100;
                for (int i = 0; i < requests; i++) {
                    byte[] data = new byte[512 * (1 + random.nextInt(4))];
                    random.nextBytes(data);
                    var write = blk.write(0, i * 4L, data).get(10, TimeUnit.SECONDS);
                    assertThat(BlockClient.status(write)).as("write %d", i).isEqualTo(VirtioBlk.S_OK);
                    var read = blk.read(0, i * 4L, data.length).get(10, TimeUnit.SECONDS);
                    assertThat(read.writable().get(0)).as("read %d", i).isEqualTo(data);
                }
                assertThat(device.completed(0)).isEqualTo(2L * requests);
                VqState state = driver.queueState(0);
                if (packed) {
                    // 200 chains of 3 (direct) or 2 (read: header, data, status = 3) descriptors on 8 slots.
                    assertThat(state).isInstanceOf(VqState.Packed.class);
                } else {
                    assertThat(state).isEqualTo(new VqState.Split(2 * requests));
                }
            }
        }
    }
}
