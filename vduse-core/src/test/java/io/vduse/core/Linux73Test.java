package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.Vduse;
import io.vduse.api.VqState;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.core.sim.SimulatedKernel.Release;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What Linux 7.3's VDUSE adds, against the simulated kernel answering as 7.3 does: API v1 with
 * groups and address spaces, the VDUSE features QUEUE_READY and SUSPEND, and the rules that made
 * the device fail to start there.
 */
class Linux73Test {

    private static final int SECTORS = 4096;
    private static final long FEATURES = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioBlk.F_MQ)
            | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX);

    private final SimulatedKernel kernel = new SimulatedKernel(Release.LINUX_7_3, Duration.ofSeconds(10));
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
        arena.close();
    }

    private VduseDevice.Builder ram(String name, int queues) {
        return VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK).features(FEATURES)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(queues, 64)
                .handlers(index -> new RamBlockHandler(disk, name));
    }

    private VduseDevice started(VduseDevice.Builder builder) throws Exception {
        VduseDevice device = builder.start();
        toClose.add(device);
        return device;
    }

    private SimulatedDriver attach(String name) throws Exception {
        SimulatedDriver driver = SimulatedDriver.attach(kernel, name, SimulatedDriver.Options.defaults().withQueueSize(64));
        toClose.add(driver);
        return driver;
    }

    private static Completion await(CompletableFuture<Completion> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    /**
     * Writes random sectors on {@code queue} and reads each back, every byte compared; each of
     * the two queues has its own half of the disk, so that they may run at once.
     */
    private static void roundTrip(BlockClient blk, int queue, Random random, int requests) throws Exception {
        for (int i = 0; i < requests; i++) {
            long sector = (queue % 2) * (SECTORS / 2) + (long) random.nextInt(SECTORS / 16) * 8;
            byte[] data = new byte[(1 + random.nextInt(8)) * VirtioBlk.SECTOR_SIZE];
            random.nextBytes(data);
            assertThat(BlockClient.status(await(blk.write(queue, sector, data)))).isEqualTo(VirtioBlk.S_OK);
            Completion read = await(blk.read(queue, sector, data.length));
            assertThat(BlockClient.status(read)).isEqualTo(VirtioBlk.S_OK);
            assertThat(read.writable().get(0)).isEqualTo(data);
        }
    }

    @Test
    void startsWithApiV1OneGroupOneAddressSpaceAndTheVduseFeatures() throws Exception {
        // Before the fix: VDUSE_CREATE_DEV EINVAL, ngroups and nas 0 under API version 1.
        VduseDevice device = started(ram("v1", 1));
        assertThat(device.apiVersion()).isEqualTo(Vduse.API_VERSION_1);
        assertThat(device.vduseFeatures()).isEqualTo((1L << Vduse.F_QUEUE_READY) | (1L << Vduse.F_SUSPEND));
        SimulatedDriver driver = attach("v1");
        roundTrip(new BlockClient(driver), 0, new Random(1), 50);
        assertThat(driver.lookups(0)).isPositive();
    }

    @Test
    void aPinnedApiVersion0StillStartsThere() throws Exception {
        VduseDevice device = started(ram("v0", 1).apiVersion(Vduse.API_VERSION_0).vduseFeatures(0));
        assertThat(device.apiVersion()).isZero();
        assertThat(device.vduseFeatures()).isZero();
        roundTrip(new BlockClient(attach("v0")), 0, new Random(2), 20);
    }

    @Test
    void refusalsNameTheRuleThatFailed() {
        assertThatThrownBy(() -> ram("wce", 1).features(FEATURES | VirtioFeatures.bit(VirtioBlk.F_CONFIG_WCE)).start())
                .isInstanceOf(VduseException.class)
                .hasMessageContaining("VDUSE_CREATE_DEV")
                .hasMessageContaining("EINVAL")
                .hasMessageContaining("VIRTIO_BLK_F_CONFIG_WCE");
        SimulatedKernel old = new SimulatedKernel(Release.LINUX_6_12);
        assertThatThrownBy(() -> ram("as2", 2).kernel(old).addressSpaces(2).start())
                .isInstanceOf(VduseException.class)
                .hasMessageContaining("need VDUSE API version 1")
                .hasMessageContaining("offers up to 0");
        assertThatThrownBy(() -> ram("v1on612", 1).kernel(old).apiVersion(1).start())
                .isInstanceOf(VduseException.class)
                .hasMessageContaining("the kernel offers up to 0");
    }

    @Test
    void queueReadyMessagesStopAndRestartOneQueueWithItsStateKept() throws Exception {
        VduseDevice device = started(ram("ready", 2));
        SimulatedDriver driver = attach("ready");
        BlockClient blk = new BlockClient(driver);
        roundTrip(blk, 0, new Random(3), 10);
        assertThat(device.queueRunning(0)).isTrue();

        // One SET_VQ_READY per queue at bring-up, each answered OK (a FAILED one breaks the device).
        assertThat(device.controlMessages(Vduse.REQ_SET_VQ_READY)).isEqualTo(2);
        VqState stopped = driver.disableQueue(0);
        assertThat(device.controlMessages(Vduse.REQ_SET_VQ_READY)).isEqualTo(3);
        assertThat(device.queueRunning(0)).isFalse();
        assertThat(device.queueRunning(1)).isTrue();
        // 10 writes and 10 reads popped: the state the kernel saves is exact.
        assertThat(stopped).isEqualTo(new VqState.Split(20));

        byte[] data = new byte[VirtioBlk.SECTOR_SIZE];
        new Random(4).nextBytes(data);
        CompletableFuture<Completion> waiting = blk.write(0, 8, data);
        assertThatThrownBy(() -> waiting.get(300, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
        roundTrip(blk, 1, new Random(5), 10); // the other queue goes on

        // Before the fix the device restarted from the state set before DRIVER_OK (0), 20 behind
        // the used index: the ring broke and the kernel broke the device.
        driver.enableQueue(0);
        assertThat(BlockClient.status(await(waiting))).isEqualTo(VirtioBlk.S_OK);
        assertThat(device.queueRunning(0)).isTrue();
        assertThat(driver.queueState(0)).isEqualTo(new VqState.Split(21));
        roundTrip(blk, 0, new Random(6), 10);
        assertThat(device.status() & io.vduse.api.virtio.VirtioStatus.DEVICE_NEEDS_RESET).isZero();
        assertThat(driver.strayCompletions(0)).isZero();
        assertThat(driver.inFlight(0)).isZero();
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "packed={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void aQueueDisabledWhenItsProcessStoppedGoesOnFromItsLogOnceEnabled(boolean packed) throws Exception {
        long features = FEATURES | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        VduseDevice first = ram("parked", 2).features(features).start();
        SimulatedDriver driver = attach("parked");
        BlockClient blk = new BlockClient(driver);
        roundTrip(blk, 0, new Random(8), 10);
        driver.disableQueue(0);
        byte[] data = new byte[VirtioBlk.SECTOR_SIZE];
        new Random(9).nextBytes(data);
        CompletableFuture<Completion> waiting = blk.write(0, 8, data);

        // The process goes away while queue 0 is disabled; the next one resumes queue 1 at once
        // and queue 0 when the driver enables it, from where the log of the first says it stood
        // (the kernel's own record is the state set before DRIVER_OK).
        first.detach();
        VduseDevice second = started(ram("parked", 2).features(features).reconnect(true));
        assertThat(second.queueRunning(0)).isFalse();
        roundTrip(blk, 1, new Random(10), 10);
        driver.enableQueue(0);
        assertThat(BlockClient.status(await(waiting))).isEqualTo(VirtioBlk.S_OK);
        roundTrip(blk, 0, new Random(11), 10);
        Completion read = await(blk.read(0, 8, data.length));
        assertThat(read.writable().get(0)).isEqualTo(data);
        assertThat(second.status() & io.vduse.api.virtio.VirtioStatus.DEVICE_NEEDS_RESET).isZero();
        assertThat(driver.strayCompletions(0) + driver.strayCompletions(1)).isZero();
    }

    @Test
    void suspendUnderLoadQuietsTheRingsAndReportsTheirExactState() throws Exception {
        VduseDevice device = started(ram("susp", 2));
        SimulatedDriver driver = attach("susp");
        BlockClient blk = new BlockClient(driver);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<CompletableFuture<Completion>> submitted = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread load = Thread.ofPlatform().start(() -> {
            Random random = new Random(7);
            try {
                while (!stop.get()) {
                    byte[] data = new byte[VirtioBlk.SECTOR_SIZE * (1 + random.nextInt(4))];
                    random.nextBytes(data);
                    CompletableFuture<Completion> f = blk.write(random.nextInt(2), (long) random.nextInt(SECTORS / 8) * 8, data);
                    submitted.add(f);
                    // Keep a few in flight; after the suspend they wait for good, so look at the flag.
                    while (submitted.size() % 16 == 0 && !f.isDone() && !stop.get()) {
                        Thread.sleep(1);
                    }
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        Thread.sleep(300);
        driver.suspend();
        assertThat(device.suspended()).isTrue();
        assertThat(device.controlMessages(Vduse.REQ_SUSPEND)).isEqualTo(1);
        assertThat(device.queueRunning(0)).isFalse();
        assertThat(device.queueRunning(1)).isFalse();
        stop.set(true);
        load.join(30_000);

        // The rings are quiet: what completed now is all that ever completes until a reset.
        Thread.sleep(200);
        long done = submitted.stream().filter(CompletableFuture::isDone).count();
        Thread.sleep(300);
        assertThat(submitted.stream().filter(CompletableFuture::isDone).count()).isEqualTo(done);
        long popped = ((VqState.Split) driver.queueState(0)).availIndex()
                + ((VqState.Split) driver.queueState(1)).availIndex();
        assertThat(popped).as("requests the device took, as GET_VQ_STATE reports them").isEqualTo(done);
        assertThat(done).isGreaterThan(20);
        assertThat(device.completed(0) + device.completed(1)).isEqualTo(done);

        driver.reset();
        assertThat(device.suspended()).isFalse();
        roundTrip(blk, 0, new Random(8), 10);
        assertThat(failure.get()).isNull();
    }

    @Test
    void aGroupMovesToAnotherAddressSpaceUnderTrafficWithEveryByteVerified() throws Exception {
        VduseDevice device = started(ram("asid", 2).queueGroups(2, 0, 1).addressSpaces(2));
        SimulatedDriver driver = attach("asid");
        BlockClient blk = new BlockClient(driver);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread queue0 = Thread.ofPlatform().start(() -> {
            try {
                Random random = new Random(9);
                while (!stop.get()) {
                    roundTrip(blk, 0, random, 5);
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        try {
            roundTrip(blk, 1, new Random(10), 20);
            assertThat(device.queueAddressSpace(1)).isZero();
            long before = driver.lookups(1);
            assertThat(before).isZero();

            driver.setGroupAsid(1, 1);
            assertThat(device.queueAddressSpace(1)).isEqualTo(1);
            assertThat(device.queueAddressSpace(0)).isZero();
            roundTrip(blk, 1, new Random(11), 50);
            assertThat(driver.lookups(1)).as("lookups of queue 1 now name address space 1").isPositive();

            // An update of address space 1 drops its mappings only; traffic goes on in both.
            driver.updateIotlb(1, 0, -1L);
            roundTrip(blk, 1, new Random(12), 20);
            driver.setGroupAsid(1, 0);
            roundTrip(blk, 1, new Random(13), 20);
        } finally {
            stop.set(true);
            queue0.join(30_000);
        }
        assertThat(failure.get()).isNull();
        assertThat(device.status() & io.vduse.api.virtio.VirtioStatus.DEVICE_NEEDS_RESET).isZero();
        assertThat(driver.strayCompletions(0) + driver.strayCompletions(1)).isZero();
    }

    @Test
    void aConfigUpdateWithoutARunningDriverIsNoError() throws Exception {
        // Before: VDUSE_DEV_INJECT_CONFIG_IRQ's EINVAL (no DRIVER_OK) failed the update.
        VduseDevice device = started(ram("cfg", 1));
        byte[] capacity = {0, 0x20, 0, 0, 0, 0, 0, 0};
        device.updateConfig(0, capacity);
        SimulatedDriver driver = attach("cfg");
        assertThat(java.util.Arrays.copyOf(driver.config(), 8)).isEqualTo(capacity);
        device.updateConfig(0, new byte[] {0, 0x30, 0, 0, 0, 0, 0, 0});
        assertThat(driver.configInterrupts()).isEqualTo(1);
        driver.suspend();
        device.updateConfig(0, new byte[] {0, 0x40, 0, 0, 0, 0, 0, 0});
        assertThat(driver.configInterrupts()).isEqualTo(1);
    }

    @Test
    void aSwitchToAnAddressSpaceTheDeviceLacksIsRefused() throws Exception {
        started(ram("asid1", 1));
        SimulatedDriver driver = attach("asid1");
        assertThatThrownBy(() -> driver.setGroupAsid(0, 1)).isInstanceOf(ErrnoException.class);
    }
}
