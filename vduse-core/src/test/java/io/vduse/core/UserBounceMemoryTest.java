package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link VduseDevice.Builder#userBounceMemory}: the device hands the simulated kernel its own
 * memory as the bounce buffer once the driver's first buffers are mapped, while requests are in
 * flight; what the driver wrote before, during and after the switch reads back intact; a reset
 * and the device's close give the memory back; a refusal leaves the device working on the
 * kernel's pages.
 */
class UserBounceMemoryTest {

    private static final int SECTORS = 4096;
    private static final long BOUNCE = 4 << 20;
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
            | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC) | VirtioFeatures.bit(VirtioBlk.F_MQ);
    private static final SimulatedDriver.Options OPTIONS = new SimulatedDriver.Options(-1L, 64, true, BOUNCE);

    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
        arena.close();
    }

    private VduseDevice start(SimulatedKernel kernel, String name) throws Exception {
        VduseDevice device = VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK).features(FEATURES)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(2, 64)
                .handlers(index -> new RamBlockHandler(disk, name)).userBounceMemory(true).start();
        toClose.add(device);
        return device;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    /** Writes random data into 8-sector slot after slot, on both queues, until {@code until} says stop. */
    private static List<byte[]> writeSlots(BlockClient blk, Random random, int first, int count) throws Exception {
        List<byte[]> data = new ArrayList<>();
        List<CompletableFuture<Completion>> done = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] d = new byte[VirtioBlk.SECTOR_SIZE * (1 + random.nextInt(8))];
            random.nextBytes(d);
            data.add(d);
            done.add(blk.write(i % 2, (first + i) * 8L, d));
        }
        for (CompletableFuture<Completion> f : done) {
            assertThat(BlockClient.status(f.get(30, TimeUnit.SECONDS))).isEqualTo(VirtioBlk.S_OK);
        }
        return data;
    }

    private static void verifySlots(BlockClient blk, int first, List<byte[]> data) throws Exception {
        List<CompletableFuture<Completion>> reads = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            reads.add(blk.read(i % 2, (first + i) * 8L, data.get(i).length));
        }
        for (int i = 0; i < data.size(); i++) {
            Completion read = reads.get(i).get(30, TimeUnit.SECONDS);
            assertThat(BlockClient.status(read)).isEqualTo(VirtioBlk.S_OK);
            assertThat(read.writable().get(0)).as("slot %d", first + i).isEqualTo(data.get(i));
        }
    }

    @ParameterizedTest
    @EnumSource(SimulatedKernel.Release.class)
    void dataCrossesTheSwitchIntactAndResetAndCloseGiveTheMemoryBack(SimulatedKernel.Release release)
            throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(release, Duration.ofSeconds(10)).memlockLimit(64L << 20);
        VduseDevice device = start(kernel, "umem");
        assertThat(device.userBounceMemoryInUse()).isFalse();
        // Closed by the test: a second close would wait for an answer from a device long gone.
        SimulatedDriver driver = SimulatedDriver.attach(kernel, "umem", OPTIONS);
        BlockClient blk = new BlockClient(driver);
        Random random = new Random(11);

        // Traffic from the first request on: the switch comes about 50 ms after the first miss,
        // while these are being served.
        List<byte[]> before = new ArrayList<>();
        int slots = 0;
        while (!device.userBounceMemoryInUse() && slots < 400) {
            before.addAll(writeSlots(blk, random, slots, 8));
            slots += 8;
        }
        await(device::userBounceMemoryInUse, "the switch");
        assertThat(kernel.userBounceMemoryRegistered("umem", 0)).isTrue();
        assertThat(kernel.pinnedBytes()).isEqualTo(BOUNCE);
        List<byte[]> after = writeSlots(blk, random, slots, 64);
        verifySlots(blk, 0, before);
        verifySlots(blk, slots, after);

        // A reset gives the memory back; the next driver's traffic brings it in again.
        driver.reset();
        assertThat(device.userBounceMemoryInUse()).isFalse();
        assertThat(kernel.userBounceMemoryRegistered("umem", 0)).isFalse();
        verifySlots(blk, slots, after);
        await(device::userBounceMemoryInUse, "the switch after the reset");
        verifySlots(blk, 0, before);

        driver.close();
        device.close();
        assertThat(kernel.userBounceMemoryRegistered("umem", 0)).isFalse();
        assertThat(kernel.pinnedBytes()).isZero();
    }

    @Test
    void requestsMadeAvailableBeforeTheSwitchAndServedAfterItReadAndWriteTheRightBytes() throws Exception {
        // With VDUSE_F_QUEUE_READY (7.3) the driver can hold queue 1 while queue 0 brings the
        // switch about: queue 1's buffers are mapped before it and served after it.
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_7_3, Duration.ofSeconds(10))
                .memlockLimit(64L << 20);
        VduseDevice device = start(kernel, "held");
        SimulatedDriver driver = SimulatedDriver.attach(kernel, "held", OPTIONS);
        toClose.add(driver);
        BlockClient blk = new BlockClient(driver);
        Random random = new Random(12);
        List<byte[]> old = writeSlots(blk, random, 100, 16); // on the kernel's pages
        driver.disableQueue(1);
        await(() -> !device.queueRunning(1), "queue 1 to stop");
        await(device::userBounceMemoryInUse, "the switch"); // queue 0's misses asked for it

        byte[] held = new byte[VirtioBlk.SECTOR_SIZE * 8];
        random.nextBytes(held);
        // Mapped now, served once the queue is enabled: the device must take them from its memory.
        driver.disableQueue(1);
        CompletableFuture<Completion> write = blk.write(1, 0, held);
        CompletableFuture<Completion> read = blk.read(1, 100 * 8L, old.get(0).length);
        assertThat(write).isNotDone();
        driver.enableQueue(1);
        assertThat(BlockClient.status(write.get(30, TimeUnit.SECONDS))).isEqualTo(VirtioBlk.S_OK);
        assertThat(read.get(30, TimeUnit.SECONDS).writable().get(0)).isEqualTo(old.get(0));
        verifySlots(blk, 0, List.of(held));
        verifySlots(blk, 100, old);
    }

    @ParameterizedTest
    @EnumSource(SimulatedKernel.Release.class)
    void aRefusalLeavesTheDeviceOnTheKernelsPages(SimulatedKernel.Release release) throws Exception {
        // Below what the bounce region needs pinned: ENOMEM, as past RLIMIT_MEMLOCK.
        SimulatedKernel kernel = new SimulatedKernel(release, Duration.ofSeconds(10)).memlockLimit(BOUNCE / 2);
        VduseDevice device = start(kernel, "refused");
        SimulatedDriver driver = SimulatedDriver.attach(kernel, "refused", OPTIONS);
        toClose.add(driver);
        BlockClient blk = new BlockClient(driver);
        Random random = new Random(13);
        List<byte[]> data = writeSlots(blk, random, 0, 64);
        Thread.sleep(200); // several chances for the message thread to try
        data.addAll(writeSlots(blk, random, 64, 64));
        verifySlots(blk, 0, data);
        assertThat(device.userBounceMemoryInUse()).isFalse();
        assertThat(kernel.userBounceMemoryRegistered("refused", 0)).isFalse();
        assertThat(kernel.pinnedBytes()).isZero();
    }
}
