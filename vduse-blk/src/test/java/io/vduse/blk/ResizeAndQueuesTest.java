package io.vduse.blk;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** A resize at run time, and many queues at once checked byte for byte against a model. */
class ResizeAndQueuesTest {

    private static long capacity(SimulatedDriver driver) {
        return VirtioBlkConfig.readFrom(MemorySegment.ofArray(driver.config())).capacity();
    }

    @Test
    void aResizeReachesTheConfigSpaceWithAnInterrupt() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-resize"), new MemoryBackend(1L << 20, 4L << 20))) {
            assertThat(capacity(rig.driver)).isEqualTo(2048);
            int interrupts = rig.driver.configInterrupts();
            assertThat(rig.readStatus(0, 2048, 512)).isEqualTo(VirtioBlk.S_IOERR);

            rig.device.resize(3L << 20);
            assertThat(capacity(rig.driver)).isEqualTo(6144);
            assertThat(rig.driver.configInterrupts()).isEqualTo(interrupts + 1);
            assertThat(rig.device.capacityBytes()).isEqualTo(3L << 20);
            byte[] data = new byte[512];
            data[9] = 9;
            assertThat(rig.write(0, 6143, data)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(0, 6143, 512)).isEqualTo(data);

            // Shrinking works the same way, and the dropped sectors are out of range at once.
            rig.device.resize(1L << 20);
            assertThat(capacity(rig.driver)).isEqualTo(2048);
            assertThat(rig.driver.configInterrupts()).isEqualTo(interrupts + 2);
            assertThat(rig.readStatus(0, 6143, 512)).isEqualTo(VirtioBlk.S_IOERR);
            // Nothing changed: no interrupt.
            assertThat(rig.device.refreshCapacity()).isFalse();
            assertThat(rig.driver.configInterrupts()).isEqualTo(interrupts + 2);
        }
    }

    @Test
    void fourQueuesOfConcurrentRandomTrafficMatchAModel() throws Exception {
        long seed = new Random().nextLong();
        Random random = new Random(seed);
        int queues = 4;
        int blocks = 2048; // 1 MiB of 512-byte blocks
        byte[] model = new byte[blocks * 512];
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-mq").withQueues(queues, 64),
                new MemoryBackend((long) blocks * 512))) {
            for (int round = 0; round < 30; round++) {
                // Writes in flight together never overlap, so the model's order is the device's.
                boolean[] busy = new boolean[blocks];
                List<CompletableFuture<Completion>> writes = new ArrayList<>();
                for (int i = 0; i < 32; i++) {
                    int first = random.nextInt(blocks);
                    int count = 1 + random.nextInt(Math.min(16, blocks - first));
                    boolean free = true;
                    for (int b = first; b < first + count; b++) {
                        free &= !busy[b];
                    }
                    if (!free) {
                        continue;
                    }
                    Arrays.fill(busy, first, first + count, true);
                    byte[] data = new byte[count * 512];
                    random.nextBytes(data);
                    System.arraycopy(data, 0, model, first * 512, data.length);
                    writes.add(rig.driver.submit(i % queues,
                            List.of(BlkRig.header(VirtioBlk.T_OUT, first), data), 1));
                }
                for (CompletableFuture<Completion> w : writes) {
                    assertThat(BlkRig.status(BlkRig.await(w))).as("seed %d", seed).isEqualTo(VirtioBlk.S_OK);
                }
                List<CompletableFuture<Completion>> reads = new ArrayList<>();
                int[] firsts = new int[32];
                for (int i = 0; i < 32; i++) {
                    firsts[i] = random.nextInt(blocks - 16);
                    reads.add(rig.driver.submit((i + 1) % queues,
                            List.of(BlkRig.header(VirtioBlk.T_IN, firsts[i])), 16 * 512, 1));
                }
                for (int i = 0; i < reads.size(); i++) {
                    Completion c = BlkRig.await(reads.get(i));
                    assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
                    assertThat(c.writable().get(0)).as("seed %d, read at block %d", seed, firsts[i])
                            .isEqualTo(Arrays.copyOfRange(model, firsts[i] * 512, (firsts[i] + 16) * 512));
                }
            }
            for (int q = 0; q < queues; q++) {
                assertThat(rig.device.counters(q).answered()).as("queue %d served requests", q).isPositive();
            }
        }
    }
}
