package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.Vduse;
import io.vduse.api.VqState;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A RAM block device built with the SDK, driven by the simulated kernel's driver through every
 * status transition, with IOTLB invalidations during traffic.
 */
class DeviceLifecycleTest {

    private static final int SECTORS = 2048;
    private static final long FEATURES = VirtioFeatures.bit(VirtioBlk.F_FLUSH)
            | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC);

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
        arena.close();
    }

    private VduseDevice start(String name, int queues, long features, QueueHandler.Factory handlers) throws Exception {
        VduseDevice device = VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(features | VirtioFeatures.bit(VirtioBlk.F_MQ))
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes())
                .queues(queues, 128)
                .handlers(handlers)
                .start();
        toClose.add(device);
        return device;
    }

    private VduseDevice startRam(String name, int queues, long features) throws Exception {
        return start(name, queues, features, index -> new RamBlockHandler(disk, "ram-" + name));
    }

    private SimulatedDriver attach(String name, SimulatedDriver.Options options) throws Exception {
        SimulatedDriver driver = SimulatedDriver.attach(kernel, name, options);
        toClose.add(driver);
        return driver;
    }

    private static Completion await(CompletableFuture<Completion> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void roundTripsThroughEveryStatusTransitionOnBothLayouts() throws Exception {
        for (boolean packed : new boolean[] {false, true}) {
            String name = packed ? "ram-packed" : "ram-split";
            long features = FEATURES | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
            VduseDevice device = startRam(name, 2, features);
            SimulatedDriver driver = attach(name, SimulatedDriver.Options.defaults().withQueueSize(64).withIndirect(true));

            assertThat(driver.status()).isEqualTo(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER
                    | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK);
            assertThat(device.negotiatedFeatures()).isEqualTo(driver.negotiatedFeatures());
            assertThat(VirtioFeatures.has(device.negotiatedFeatures(), VirtioFeatures.RING_PACKED)).isEqualTo(packed);

            BlockClient blk = new BlockClient(driver);
            writeAndVerify(blk, new Random(packed ? 2 : 1), 400);

            // Reset and bring-up again: the device stops its queues and starts them afresh.
            driver.reset();
            assertThat(device.completed(0) + device.completed(1)).isGreaterThanOrEqualTo(800);
            writeAndVerify(blk, new Random(3), 100);

            driver.close();
            device.close();
            assertThat(kernel.deviceExists(name)).isFalse();
        }
    }

    /** Writes random data to distinct sectors over both queues, then reads each back on the other. */
    private void writeAndVerify(BlockClient blk, Random random, int requests) throws Exception {
        writeAndVerify(blk, random, requests, 2);
    }

    private void writeAndVerify(BlockClient blk, Random random, int requests, int queues) throws Exception {
        List<CompletableFuture<Completion>> writes = new ArrayList<>();
        long[] sectors = new long[requests];
        byte[][] data = new byte[requests][];
        for (int i = 0; i < requests; i++) {
            // Distinct 8-sector slots so that no two requests overlap.
            sectors[i] = (long) (i % (SECTORS / 8)) * 8;
            data[i] = new byte[(1 + random.nextInt(8)) * VirtioBlk.SECTOR_SIZE];
            random.nextBytes(data[i]);
        }
        int slots = SECTORS / 8;
        for (int round = 0; round * slots < requests; round++) {
            writes.clear();
            for (int i = round * slots; i < Math.min(requests, (round + 1) * slots); i++) {
                writes.add(blk.write(i % queues, sectors[i], data[i]));
            }
            for (CompletableFuture<Completion> w : writes) {
                assertThat(BlockClient.status(await(w))).isEqualTo(VirtioBlk.S_OK);
            }
            for (int i = round * slots; i < Math.min(requests, (round + 1) * slots); i++) {
                Completion read = await(blk.read((i + 1) % queues, sectors[i], data[i].length));
                assertThat(BlockClient.status(read)).isEqualTo(VirtioBlk.S_OK);
                assertThat(read.writable().get(0)).isEqualTo(data[i]);
                assertThat(read.usedLength()).isEqualTo(data[i].length + 1);
            }
        }
    }

    @Test
    void busyPollingQueuesServeWithoutKicks() throws Exception {
        VduseDevice device = VduseDevice.builder("ram-poll").kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                .features(FEATURES | VirtioFeatures.bit(VirtioBlk.F_MQ))
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(2, 64)
                .handlers(index -> new RamBlockHandler(disk, "poll")).busyPoll(true).start();
        toClose.add(device);
        SimulatedDriver driver = attach("ram-poll", SimulatedDriver.Options.defaults().withQueueSize(64));
        writeAndVerify(new BlockClient(driver), new Random(21), 200);
        assertThat(device.completed(0) + device.completed(1)).isEqualTo(400);
    }

    @Test
    void iotlbInvalidationsDuringTrafficLoseNothing() throws Exception {
        startRam("ram-iotlb", 2, FEATURES);
        SimulatedDriver driver = attach("ram-iotlb", SimulatedDriver.Options.defaults().withQueueSize(32));
        BlockClient blk = new BlockClient(driver);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger invalidations = new AtomicInteger();
        Thread invalidator = Thread.ofPlatform().start(() -> {
            while (!stop.get()) {
                try {
                    driver.updateIotlb(0, -1L);
                    invalidations.incrementAndGet();
                } catch (ErrnoException e) {
                    throw new IllegalStateException(e);
                }
            }
        });
        try {
            writeAndVerify(blk, new Random(7), 600);
        } finally {
            stop.set(true);
            invalidator.join();
        }
        assertThat(invalidations.get()).isGreaterThan(10);
    }

    @Test
    void unknownMessagesAndBadQueueIndexesAreAnsweredFailedAndTheDeviceGoesOn() throws Exception {
        startRam("ram-msg", 1, FEATURES);
        SimulatedDriver driver = attach("ram-msg", SimulatedDriver.Options.defaults());
        assertThat(driver.sendUnknownMessage(77)).isEqualTo(Vduse.REQ_RESULT_FAILED);
        assertThat(driver.sendGetVqState(5)).isEqualTo(Vduse.REQ_RESULT_FAILED);
        assertThat(driver.queueState(0)).isInstanceOf(VqState.Split.class);
        writeAndVerify(new BlockClient(driver), new Random(9), 20, 1);
        assertThat(((VqState.Split) driver.queueState(0)).availIndex()).isEqualTo(40);
    }

    @Test
    void aHandlerThatThrowsFailsThatRequestOnly() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        start("ram-throw", 1, FEATURES, index -> {
            RamBlockHandler ram = new RamBlockHandler(disk, "x");
            return new QueueHandler() {
                @Override
                public void handle(io.vduse.virtqueue.DescriptorChain chain) throws Exception {
                    if (calls.incrementAndGet() == 3) {
                        throw new java.io.IOException("backend failure");
                    }
                    ram.handle(chain);
                }

                @Override
                public void failed(io.vduse.virtqueue.DescriptorChain chain, Exception cause) {
                    ram.failed(chain, cause);
                }
            };
        });
        SimulatedDriver driver = attach("ram-throw", SimulatedDriver.Options.defaults());
        BlockClient blk = new BlockClient(driver);
        byte[] data = new byte[512];
        Arrays.fill(data, (byte) 5);
        List<Integer> statuses = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            statuses.add(BlockClient.status(await(blk.write(0, i, data))));
        }
        assertThat(statuses).containsExactly(VirtioBlk.S_OK, VirtioBlk.S_OK, VirtioBlk.S_IOERR, VirtioBlk.S_OK,
                VirtioBlk.S_OK);
    }

    @Test
    void aBrokenRingStopsItsQueueAndSetsNeedsResetWhileOtherQueuesGoOn() throws Exception {
        VduseDevice device = startRam("ram-broken", 2, FEATURES);
        SimulatedDriver driver = attach("ram-broken", SimulatedDriver.Options.defaults().withQueueSize(16));
        BlockClient blk = new BlockClient(driver);
        writeAndVerify(blk, new Random(11), 10);
        driver.corruptAvailIndex(0);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((device.status() & VirtioStatus.DEVICE_NEEDS_RESET) == 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(device.status() & VirtioStatus.DEVICE_NEEDS_RESET).isNotZero();
        byte[] data = new byte[1024];
        new Random(12).nextBytes(data);
        assertThat(BlockClient.status(await(blk.write(1, 100, data)))).isEqualTo(VirtioBlk.S_OK);
        assertThat(await(blk.read(1, 100, data.length)).writable().get(0)).isEqualTo(data);
        // A reset clears the broken state: queue 0 serves again.
        driver.reset();
        assertThat(device.status() & VirtioStatus.DEVICE_NEEDS_RESET).isZero();
        assertThat(BlockClient.status(await(blk.write(0, 200, data)))).isEqualTo(VirtioBlk.S_OK);
    }

    @Test
    void theKernelRefusesToDestroyAnAttachedDeviceAndTheErrorSaysWhy() throws Exception {
        SimulatedKernel impatient = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofMillis(300));
        VduseDevice device = VduseDevice.builder("ram-busy").kernel(impatient).deviceId(VirtioDeviceId.BLOCK)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes())
                .handler(new RamBlockHandler(disk, "busy")).start();
        toClose.add(device);
        SimulatedDriver driver = SimulatedDriver.attach(impatient, "ram-busy");
        assertThatThrownBy(device::close)
                .isInstanceOf(VduseException.class)
                .hasMessageContaining("still in use")
                .hasMessageContaining("vdpa dev del ram-busy")
                .hasRootCauseInstanceOf(ErrnoException.class);
        assertThat(impatient.deviceExists("ram-busy")).isTrue();
        // The device process has stopped: the driver's reset on detach goes unanswered and times
        // out, as with the kernel, and the device is detached all the same.
        assertThatThrownBy(driver::close).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.ETIMEDOUT));
        VduseDevice.destroy(impatient, "ram-busy");
        assertThat(impatient.deviceExists("ram-busy")).isFalse();
    }

    @Test
    void badDescriptionsAreRefusedWithTheReason() throws Exception {
        startRam("ram-dup", 1, FEATURES);
        assertThatThrownBy(() -> startRam("ram-dup", 1, FEATURES))
                .isInstanceOf(VduseException.class)
                .hasMessageContaining("exists already");
        assertThatThrownBy(() -> startRam("a/b", 1, FEATURES))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("contains '/'")
                .hasMessageContaining("/dev/vduse/a!b");
        assertThatThrownBy(() -> startRam("x".repeat(256), 1, FEATURES))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("too long");
        assertThatThrownBy(() -> VduseDevice.builder("big").kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                .config(new byte[5000]).handler(c -> { }).start())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most 4096 bytes");
        assertThatThrownBy(() -> start("wce", 1, VirtioFeatures.bit(VirtioBlk.F_CONFIG_WCE),
                i -> c -> { }))
                .isInstanceOf(VduseException.class)
                .hasMessageContaining("CONFIG_WCE");
        assertThat(kernel.deviceExists("wce")).isFalse();
    }

    @Test
    void configUpdatesReachTheDriverWithAnInterrupt() throws Exception {
        VduseDevice device = startRam("ram-resize", 1, FEATURES);
        SimulatedDriver driver = attach("ram-resize", SimulatedDriver.Options.defaults());
        byte[] capacity = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putLong(4096).array();
        device.updateConfig((int) VirtioBlkConfig.CAPACITY, capacity);
        assertThat(driver.configInterrupts()).isEqualTo(1);
        assertThat(VirtioBlkConfig.readFrom(MemorySegment.ofArray(driver.config())).capacity()).isEqualTo(4096);
        // 8 bytes at 70 run past the 72-byte config space.
        assertThatThrownBy(() -> device.updateConfig(70, new byte[8]))
                .isInstanceOf(ErrnoException.class)
                .hasMessageContaining("EINVAL");
    }
}
