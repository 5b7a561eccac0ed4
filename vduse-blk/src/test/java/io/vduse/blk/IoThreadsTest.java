package io.vduse.blk;

import static io.vduse.blk.BlkRig.header;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * {@link BlkOptions#ioThreads()}: each queue serves that many requests at once, on threads of its
 * own, and completes them in whatever order the backend finishes.
 */
class IoThreadsTest {

    private static final int MIB = 1 << 20;

    /** A memory backend whose reads wait at a barrier until {@code parties} reads are in it at once. */
    private static BlockBackend barrierBackend(long size, int parties) {
        CyclicBarrier barrier = new CyclicBarrier(parties);
        return new CountingBackend(new MemoryBackend(size), n -> false, () -> {
            try {
                barrier.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                throw new IOException("fewer than " + parties + " reads were in flight at once", e);
            }
        });
    }

    private static List<CompletableFuture<Completion>> reads(BlkRig rig, int count) throws Exception {
        List<CompletableFuture<Completion>> reads = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            reads.add(rig.driver.submit(0, List.of(header(VirtioBlk.T_IN, i * 8L)), 4096, 1));
        }
        return reads;
    }

    @Test
    void eightReadsThatWaitForEachOtherAllCompleteOnEightThreads() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-io8").withIoThreads(8), barrierBackend(MIB, 8))) {
            for (CompletableFuture<Completion> read : reads(rig, 8)) {
                assertThat(BlkRig.status(BlkRig.await(read))).isEqualTo(VirtioBlk.S_OK);
            }
            assertThat(rig.device.counters(0).get(QueueCounters.Counter.READS)).isEqualTo(8);
        }
    }

    @Test
    void onTheQueuesOwnThreadTheSameReadsAreServedOneAtATime() throws Exception {
        // The control: without I/O threads no two reads are ever in the backend at once.
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-io0"), barrierBackend(MIB, 2))) {
            for (CompletableFuture<Completion> read : reads(rig, 2)) {
                assertThat(BlkRig.status(BlkRig.await(read))).isEqualTo(VirtioBlk.S_IOERR);
            }
        }
    }

    @Test
    void randomWritesAndReadsOnFourThreadsPerQueueReadBackWhatWasWritten() throws Exception {
        int blocks = 256;
        Random random = new Random(42);
        byte[][] data = new byte[blocks][4096];
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-io4").withQueues(2, 64).withIoThreads(4),
                new MemoryBackend((long) blocks * 4096))) {
            List<CompletableFuture<Completion>> writes = new ArrayList<>();
            for (int b = 0; b < blocks; b++) {
                random.nextBytes(data[b]);
                writes.add(rig.driver.submit(b % 2, List.of(header(VirtioBlk.T_OUT, b * 8L), data[b]), 1));
            }
            for (CompletableFuture<Completion> w : writes) {
                assertThat(BlkRig.status(BlkRig.await(w))).isEqualTo(VirtioBlk.S_OK);
            }
            List<CompletableFuture<Completion>> reads = new ArrayList<>();
            for (int b = 0; b < blocks; b++) {
                reads.add(rig.driver.submit(b % 2, List.of(header(VirtioBlk.T_IN, b * 8L)), 4096, 1));
            }
            for (int b = 0; b < blocks; b++) {
                Completion c = BlkRig.await(reads.get(b));
                assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
                assertThat(c.writable().get(0)).as("block %d", b).isEqualTo(data[b]);
            }
            assertThat(rig.device.counters(0).get(QueueCounters.Counter.WRITES)
                    + rig.device.counters(1).get(QueueCounters.Counter.WRITES)).isEqualTo(blocks);
        }
    }

    @Test
    void aFailingWriteIsAnsweredIoerrAndTheOthersGoOn() throws Exception {
        CountingBackend backend = new CountingBackend(new MemoryBackend(MIB), n -> n == 3);
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-iofail").withIoThreads(2), backend)) {
            int ioerr = 0;
            for (int i = 0; i < 6; i++) {
                int status = rig.write(0, i * 8L, new byte[4096]);
                assertThat(status).isIn(VirtioBlk.S_OK, VirtioBlk.S_IOERR);
                ioerr += status == VirtioBlk.S_IOERR ? 1 : 0;
            }
            assertThat(ioerr).isEqualTo(1);
            assertThat(rig.device.counters(0).get(QueueCounters.Counter.IO_ERRORS)).isEqualTo(1);
        }
    }

    @Test
    void closingTheDeviceEndsItsIoThreads() throws Exception {
        BlkRig rig = new BlkRig(BlkOptions.defaults("t-ioclose").withIoThreads(3), new MemoryBackend(MIB));
        assertThat(rig.write(0, 0, new byte[4096])).isEqualTo(VirtioBlk.S_OK);
        assertThat(ioThreads("vduse-t-ioclose-q0-io")).isEqualTo(3);
        rig.close();
        assertThat(ioThreads("vduse-t-ioclose-q0-io")).isZero();
    }

    private static long ioThreads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith(prefix) && t.isAlive()).count();
    }
}
