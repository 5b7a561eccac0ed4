package io.vduse.blk;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A process serving the disk stops with a write stuck in its backend; a second process takes the
 * device over with {@code reconnect} on the ring the driver chose, packed (offered by default) or
 * split, finds the write in the queue's in-flight log and serves it again: the driver's write
 * completes once, and the disk holds it.
 */
class ReconnectTest {

    private static final long SIZE = 1 << 20;

    @TempDir
    Path logs;

    /** The first process's backend: its second write never returns until released, then fails. */
    private static CountingBackend stuckAtTheSecondWrite(BlockBackend disk, CountDownLatch stuck,
            CountDownLatch release) {
        return new CountingBackend(disk, n -> {
            if (n != 2) {
                return false;
            }
            stuck.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return true; // the process is gone
        });
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {true, false})
    void aWriteInFlightWhenTheProcessStoppedIsServedByTheNextOne(boolean packed) throws Exception {
        SimulatedKernel kernel = new SimulatedKernel();
        MemoryBackend disk = new MemoryBackend(SIZE); // outlives the processes, as a file would
        BlkOptions options = BlkOptions.defaults("t-reconnect").withQueues(1, 16).withInflightDirectory(logs);
        CountDownLatch stuck = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        VirtioBlkDevice one = VirtioBlkDevice.start(options, stuckAtTheSecondWrite(disk, stuck, release), kernel);
        long mask = packed ? -1L : ~VirtioFeatures.bit(VirtioFeatures.RING_PACKED);
        SimulatedDriver driver = SimulatedDriver.attach(kernel, options.name(),
                SimulatedDriver.Options.defaults().withQueueSize(16).withFeatureMask(mask));
        try {
            assertThat(VirtioFeatures.has(driver.negotiatedFeatures(), VirtioFeatures.RING_PACKED)).isEqualTo(packed);
            byte[] a = pattern(4096, 1);
            byte[] b = pattern(8192, 2);
            assertThat(BlkRig.status(write(driver, 8, a).get(10, TimeUnit.SECONDS))).isEqualTo(VirtioBlk.S_OK);
            CompletableFuture<Completion> inFlight = write(driver, 64, b);
            assertThat(stuck.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(Files.exists(logs.resolve(options.name()).resolve("queue-0.inflight"))).isTrue();

            // The first process goes away with the write in its backend (its queue is given up
            // after the settle time); the device stays in the kernel.
            one.detach();
            try (VirtioBlkDevice two = VirtioBlkDevice.start(options.withReconnect(true), disk,
                    kernel)) {
                Completion done = inFlight.get(10, TimeUnit.SECONDS);
                assertThat(BlkRig.status(done)).isEqualTo(VirtioBlk.S_OK);
                release.countDown();
                assertThat(read(driver, 64, b.length)).isEqualTo(b);
                assertThat(read(driver, 8, a.length)).isEqualTo(a);
                assertThat(driver.strayCompletions(0)).isZero();
                assertThat(two.counters(0).answered()).isEqualTo(3); // the write again, two reads
                driver.close();
            }
            // The device is gone from the kernel: so are its logs.
            assertThat(logs.resolve(options.name())).doesNotExist();
        } finally {
            release.countDown();
        }
    }

    private static CompletableFuture<Completion> write(SimulatedDriver driver, long sector, byte[] data)
            throws Exception {
        return driver.submit(0, List.of(BlkRig.header(VirtioBlk.T_OUT, sector), data), 1);
    }

    private static byte[] read(SimulatedDriver driver, long sector, int length) throws Exception {
        Completion c = driver.submit(0, List.of(BlkRig.header(VirtioBlk.T_IN, sector)), length, 1)
                .get(10, TimeUnit.SECONDS);
        assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
        return c.writable().get(0);
    }

    private static byte[] pattern(int length, int seed) {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++) {
            data[i] = (byte) (i * 31 + seed);
        }
        return data;
    }
}
