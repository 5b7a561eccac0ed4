package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.virtqueue.ChainWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Completions of a long pass reach the driver while the pass goes on: a driver that gets the
 * first of them early submits again while the device serves the rest, instead of waiting for
 * the whole batch (vduse-bench's tmpfs comparison, 1.2x to 1.5x on 4 KiB at QD32).
 */
class PublishCadenceTest {

    /** What the SDK promises: a pass publishes at least this often. */
    private static final int CADENCE = 16;
    private static final int REQUESTS = 3 * CADENCE;
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
    }

    /**
     * Serves every read at once on the queue's thread, except that the first waits until the
     * driver has made all of them available (so that one pass pops them all), and the one after
     * the first {@link #CADENCE} counts how many of those the driver has got meanwhile.
     */
    private static final class OnePassHandler implements AsyncQueueHandler {
        final CountDownLatch allAvailable = new CountDownLatch(1);
        final List<CompletableFuture<Completion>> futures = new CopyOnWriteArrayList<>();
        final AtomicInteger seenByDriver = new AtomicInteger(-1);
        private int started; // queue thread only

        @Override
        public void start(Request request) throws InterruptedException {
            int n = started++;
            if (n == 0 && !allAvailable.await(PATIENCE.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("the driver did not submit all " + REQUESTS + " requests");
            }
            if (n == CADENCE) {
                seenByDriver.set(completedByDriver());
            }
            ChainWriter out = request.chain().writer();
            out.skip(out.remaining() - 1);
            out.writeByte((byte) VirtioBlk.S_OK);
            request.complete();
        }

        /** Waits, within {@link #PATIENCE}, for the driver to have the first {@link #CADENCE}. */
        private int completedByDriver() throws InterruptedException {
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (true) {
                int done = (int) futures.stream().limit(CADENCE).filter(CompletableFuture::isDone).count();
                if (done == CADENCE || System.nanoTime() > deadline) {
                    return done;
                }
                Thread.sleep(1);
            }
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void theDriverGetsTheFirstCompletionsOfAPassBeforeThePassEnds(boolean packed) throws Exception {
        String name = packed ? "cadence-packed" : "cadence-split";
        OnePassHandler handler = new OnePassHandler();
        toClose.add(VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
                        | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0))
                .config(VirtioBlkConfig.ofCapacity(1024).toBytes())
                .queues(1, 256)
                .asyncHandlers(index -> handler)
                .start());
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, name,
                SimulatedDriver.Options.defaults().withQueueSize(256)));
        BlockClient blk = new BlockClient(driver);
        for (int i = 0; i < REQUESTS; i++) {
            handler.futures.add(blk.read(0, i, VirtioBlk.SECTOR_SIZE));
        }
        handler.allAvailable.countDown();

        for (CompletableFuture<Completion> f : handler.futures) {
            assertThat(BlockClient.status(f.get(30, TimeUnit.SECONDS))).isEqualTo(VirtioBlk.S_OK);
        }
        assertThat(handler.seenByDriver.get())
                .as("completions the driver had when the device started request %d of one pass", CADENCE)
                .isEqualTo(CADENCE);
    }
}
