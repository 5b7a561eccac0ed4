package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.virtqueue.DescriptorChain;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The lifecycle defects a review of the one-request-at-a-time queue worker found, each as the
 * driver or the kernel would provoke it. Every test here failed on that worker (commit c50bcce)
 * and passes on the queue runs that replaced it.
 */
class LifecycleDefectsTest {

    private static final int SECTORS = 4096;
    private static final long FEATURES = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioBlk.F_MQ);

    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
    private final Closer closer = new Closer();

    @AfterEach
    void tearDown() {
        closer.close();
        arena.close();
    }

    private VduseDevice.Builder device(SimulatedKernel kernel, String name, int queues, QueueHandler.Factory handlers) {
        return VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK).features(FEATURES)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(queues, 64).handlers(handlers);
    }

    private static SimulatedDriver.Options rings() {
        return SimulatedDriver.Options.defaults().withQueueSize(64);
    }

    private static Completion await(CompletableFuture<Completion> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private static void roundTrip(BlockClient blk, int queue, Random random, int count) throws Exception {
        for (int i = 0; i < count; i++) {
            byte[] data = new byte[VirtioBlk.SECTOR_SIZE * (1 + random.nextInt(4))];
            random.nextBytes(data);
            long sector = (long) random.nextInt(SECTORS / 8) * 8;
            assertThat(BlockClient.status(await(blk.write(queue, sector, data)))).isEqualTo(VirtioBlk.S_OK);
            Completion read = await(blk.read(queue, sector, data.length));
            assertThat(BlockClient.status(read)).isEqualTo(VirtioBlk.S_OK);
            assertThat(read.writable().get(0)).isEqualTo(data);
        }
    }

    private static boolean needsReset(VduseDevice device) {
        return (device.status() & VirtioStatus.DEVICE_NEEDS_RESET) != 0;
    }

    /** Waits up to 10 s for {@code condition}; whether it came true. */
    private static boolean eventually(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    // ---- 1. a Throwable escaping a handler ----------------------------------------------------------

    @Test
    void anErrorEscapingAHandlerStopsThatQueueVisiblyAndTheOthersGoOn() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel();
        AtomicInteger calls = new AtomicInteger();
        VduseDevice device = closer.add(device(kernel, "err", 2, index -> {
            RamBlockHandler ram = new RamBlockHandler(disk, "err");
            return index == 0 ? chain -> {
                if (calls.incrementAndGet() == 3) {
                    throw new AssertionError("a bug in the handler");
                }
                ram.handle(chain);
            } : ram;
        }).start());
        SimulatedDriver driver = closer.add(SimulatedDriver.attach(kernel, "err", rings()));
        BlockClient blk = new BlockClient(driver);
        roundTrip(blk, 0, new Random(1), 1);
        CompletableFuture<Completion> third = blk.write(0, 0, new byte[VirtioBlk.SECTOR_SIZE]);

        // Before: the Error ended the worker thread silently; the device looked healthy.
        assertThat(eventually(() -> needsReset(device))).as("NEEDS_RESET after the Error").isTrue();
        assertThat(eventually(() -> !device.queueRunning(0))).isTrue();
        roundTrip(blk, 1, new Random(2), 10);
        assertThatThrownBy(() -> third.get(200, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
    }

    // ---- 2. chains made available before DRIVER_OK ---------------------------------------------------

    @Test
    void chainsMadeAvailableBeforeDriverOkAreServedAndInterruptedAfterIt() throws Exception {
        // The kernel refuses VQ_INJECT_IRQ until it has the answer to DRIVER_OK. A worker started
        // while that answer was unwritten completed these chains, had its interrupt refused and
        // died; it happened in most bring-ups, so twenty make it certain.
        for (int round = 0; round < 20; round++) {
            SimulatedKernel kernel = new SimulatedKernel();
            try (VduseDevice device = device(kernel, "early", 1, index -> new RamBlockHandler(disk, "early")).start();
                    SimulatedDriver driver = SimulatedDriver.attachBeforeDriverOk(kernel, "early", rings())) {
                BlockClient blk = new BlockClient(driver);
                byte[] data = new byte[VirtioBlk.SECTOR_SIZE];
                new Random(round).nextBytes(data);
                CompletableFuture<Completion> early = blk.write(0, 8L * round, data);
                driver.driverOk();
                assertThat(BlockClient.status(await(early))).as("round %d", round).isEqualTo(VirtioBlk.S_OK);
                roundTrip(blk, 0, new Random(round), 2);
                assertThat(needsReset(device)).isFalse();
                assertThat(device.interrupts(0)).isPositive();
            }
        }
    }

    // ---- 3. taken over between the FEATURES_OK and DRIVER_OK answers -----------------------------------

    @Test
    void aDeviceTakenOverBeforeItsDriverOkWasAnsweredStartsAndServes() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
        VduseDevice first = device(kernel, "early-kill", 1, index -> new RamBlockHandler(disk, "k")).start();
        SimulatedDriver driver = closer.add(SimulatedDriver.attachBeforeDriverOk(kernel, "early-kill", rings()));
        first.detach(); // the process dies after answering FEATURES_OK
        // DRIVER_OK waits for an answer, which only the next process can give.
        CompletableFuture<Void> driverOk = CompletableFuture.runAsync(() -> {
            try {
                driver.driverOk();
            } catch (ErrnoException e) {
                throw new IllegalStateException(e);
            }
        });
        // Before: resume() took the queues as running and injected an interrupt, which the kernel
        // refuses until DRIVER_OK is answered: every restart failed.
        VduseDevice device = closer.add(device(kernel, "early-kill", 1, index -> new RamBlockHandler(disk, "k"))
                .reconnect(true).start());
        driverOk.get(10, TimeUnit.SECONDS);
        roundTrip(new BlockClient(driver), 0, new Random(3), 10);
        assertThat(needsReset(device)).isFalse();
    }

    // ---- 4. one queue's bad ring ----------------------------------------------------------------------

    @Test
    void aQueueWhoseRingIsUnmappedAtDriverOkStopsAloneAndTheOthersStart() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel();
        VduseDevice device = closer.add(device(kernel, "bad-ring", 3, index -> new RamBlockHandler(disk, "b")).start());
        SimulatedDriver driver = closer.add(SimulatedDriver.attachBeforeDriverOk(kernel, "bad-ring", rings()));
        driver.misplaceRing(1);
        // Before: the bad ring failed DRIVER_OK for the whole device.
        driver.driverOk();
        BlockClient blk = new BlockClient(driver);
        roundTrip(blk, 0, new Random(4), 5);
        roundTrip(blk, 2, new Random(5), 5);
        assertThat(device.queueRunning(1)).isFalse();
        assertThat(needsReset(device)).isTrue();
    }

    @Test
    void aRingUnmappedUnderTrafficStopsOnlyItsQueue() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel();
        VduseDevice device = closer.add(device(kernel, "gone-ring", 3, index -> new RamBlockHandler(disk, "g")).start());
        SimulatedDriver driver = closer.add(SimulatedDriver.attach(kernel, "gone-ring", rings()));
        BlockClient blk = new BlockClient(driver);
        for (int q = 0; q < 3; q++) {
            roundTrip(blk, q, new Random(q), 3);
        }
        // Before: rebuilding queue 0's ring threw, and the queues after it were left over the
        // memory just unmapped, so they broke too.
        driver.unmapRing(0);
        roundTrip(blk, 1, new Random(6), 10);
        roundTrip(blk, 2, new Random(7), 10);
        assertThat(eventually(() -> needsReset(device))).isTrue();
        assertThat(eventually(() -> !device.queueRunning(0))).isTrue();
        assertThat(device.queueRunning(1)).isTrue();
        assertThat(device.queueRunning(2)).isTrue();
    }

    // ---- 5. the control path's bound -------------------------------------------------------------------

    /**
     * The longest a control message may wait for its answer here: a quarter of the 2 s message
     * timeout. On a quiet machine every answer takes a few milliseconds (the figures are printed);
     * the margin is for a loaded CI machine, and before the fix these waited the whole 10 s.
     */
    private static final long ANSWER_BOUND_MILLIS = 500;

    /** Every message since the driver's last clear was answered within the bound, as the simulated kernel timed it. */
    private static void assertAnsweredWithinBound(SimulatedDriver driver) {
        java.util.Map<String, Duration> slowest = driver.slowestAnswers();
        System.out.println("slowest answers: " + slowest);
        assertThat(slowest).isNotEmpty().allSatisfy((kind, time) ->
                assertThat(time).as(kind).isLessThan(Duration.ofMillis(ANSWER_BOUND_MILLIS)));
    }

    /**
     * Sends each kind of message once before anything is measured: the first of each loads
     * classes and links call sites, which is no wait for the data path.
     */
    private static void warmUp(SimulatedDriver driver, BlockClient blk) throws Exception {
        for (int i = 0; i < 3; i++) {
            driver.queueState(1);
            driver.updateIotlb(0, -1L);
            roundTrip(blk, 1, new Random(i), 2);
        }
    }

    @Test
    void controlMessagesAreAnsweredPromptlyWhileAHandlerBlocks() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(2));
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean blocking = new AtomicBoolean();
        VduseDevice device = closer.add(device(kernel, "blocked", 2, index -> {
            RamBlockHandler ram = new RamBlockHandler(disk, "x");
            return index == 0 ? chain -> {
                blocking.set(true);
                // A handler stuck in its backend for 10 s (released at the end of the test).
                release.await(10, TimeUnit.SECONDS);
                ram.handle(chain);
            } : ram;
        }).settleTimeout(Duration.ofMillis(20)).start());
        closer.add(release::countDown);
        SimulatedDriver driver = closer.add(SimulatedDriver.attach(kernel, "blocked", rings()));
        BlockClient blk = new BlockClient(driver);
        warmUp(driver, blk);
        List<CompletableFuture<Completion>> stuck = new ArrayList<>();
        for (int i = 0; i < 21; i++) { // the whole ring: 21 chains of 3 descriptors in 64
            stuck.add(blk.write(0, 8L * i, new byte[VirtioBlk.SECTOR_SIZE]));
        }
        assertThat(eventually(blocking::get)).isTrue();

        driver.clearAnswerTimes();
        for (int i = 0; i < 20; i++) {
            driver.queueState(0);
            // Before: UPDATE_IOTLB waited for the worker's pass, held by the blocked handler, past
            // the kernel's message timeout; the kernel then broke the device.
            driver.updateIotlb(0, -1L);
            roundTrip(blk, 1, new Random(i), 1); // and the other queue goes on
        }
        // A reset settles within the settle timeout (20 ms here): the blocked request is
        // cancelled; the bring-up after it sends every status again.
        driver.reset();
        assertAnsweredWithinBound(driver);
        assertThat(device.cancelled(0)).isPositive();
        roundTrip(blk, 1, new Random(99), 5);
    }

    @Test
    void controlMessagesAreAnsweredPromptlyWhileTheDriverKeepsTheRingFull() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(2));
        VduseDevice device = closer.add(device(kernel, "full", 1, index -> new RamBlockHandler(disk, "f")).start());
        SimulatedDriver driver = closer.add(SimulatedDriver.attach(kernel, "full", rings()));
        BlockClient blk = new BlockClient(driver);
        for (int i = 0; i < 3; i++) {
            driver.queueState(0);
            driver.updateIotlb(0, -1L);
        }
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger served = new AtomicInteger();
        // Submitting waits while the ring is full, so the ring stays full and a worker that drains
        // "until empty" never finishes its pass.
        Thread load = Thread.ofPlatform().start(() -> {
            List<CompletableFuture<Completion>> window = new ArrayList<>();
            try {
                while (!stop.get()) {
                    window.add(blk.write(0, 8L * (served.get() % 256), new byte[VirtioBlk.SECTOR_SIZE]));
                    if (window.size() > 64) {
                        window.remove(0).get(10, TimeUnit.SECONDS);
                        served.incrementAndGet();
                    }
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            assertThat(eventually(() -> served.get() > 1000)).isTrue();
            driver.clearAnswerTimes();
            for (int i = 0; i < 50; i++) {
                driver.queueState(0);
                driver.updateIotlb(0, -1L);
            }
            assertAnsweredWithinBound(driver);
        } finally {
            stop.set(true);
            load.join();
        }
        assertThat(needsReset(device)).isFalse();
    }

    // ---- 7. a handler that fails without answering ------------------------------------------------------

    @Test
    void aHandlerThatThrowsWithoutWritingAStatusAnswersIoErr() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel();
        closer.add(device(kernel, "mute", 1, index -> (DescriptorChain chain) -> {
            throw new java.io.IOException("backend failure");
        }).start());
        SimulatedDriver driver = closer.add(SimulatedDriver.attach(kernel, "mute", rings()));
        // Before: the chain went back with the status byte the driver left, 0: VIRTIO_BLK_S_OK.
        Completion write = await(new BlockClient(driver).write(0, 0, new byte[VirtioBlk.SECTOR_SIZE]));
        assertThat(BlockClient.status(write)).isEqualTo(VirtioBlk.S_IOERR);
        Completion read = await(new BlockClient(driver).read(0, 0, VirtioBlk.SECTOR_SIZE));
        assertThat(BlockClient.status(read)).isEqualTo(VirtioBlk.S_IOERR);
    }
}
