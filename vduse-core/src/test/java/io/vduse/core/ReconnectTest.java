package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.Vduse;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The device's process dies in the middle of traffic, with chains popped and handled but not
 * published; a new process takes the device over. Every request completes exactly once and every
 * completed write reads back intact.
 */
class ReconnectTest {

    private static final int SECTORS = 4096;
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
            | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC) | VirtioFeatures.bit(VirtioBlk.F_FLUSH);

    /** What a process killed mid-request looks like to its queue thread: it stops, with no clean-up. */
    private static final class ProcessKilled extends Error {
        private static final long serialVersionUID = 1L;

        ProcessKilled() {
            super("simulated SIGKILL", null, false, false);
        }
    }

    private static VduseDevice start(SimulatedKernel kernel, MemorySegment disk, boolean reconnect,
            QueueHandler.Factory handlers) throws VduseException {
        return VduseDevice.builder("reconnect").kernel(kernel).deviceId(VirtioDeviceId.BLOCK).features(FEATURES)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(2, 64)
                .handlers(handlers).reconnect(reconnect).start();
    }

    @Test
    void aNewProcessFinishesWhatTheKilledOneLeftAndNothingCompletesTwice() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(20));
        try (Arena arena = Arena.ofShared()) {
            // The disk outlives the process, as a backing file would.
            MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
            AtomicInteger served = new AtomicInteger();
            int killAfter = 150;
            VduseDevice first = start(kernel, disk, false, index -> {
                RamBlockHandler ram = new RamBlockHandler(disk, "first");
                return (DescriptorChain chain) -> {
                    ram.handle(chain); // the write lands in the disk, but is never published
                    if (served.incrementAndGet() >= killAfter) {
                        throw new ProcessKilled();
                    }
                };
            });
            SimulatedDriver driver = SimulatedDriver.attach(kernel, "reconnect",
                    SimulatedDriver.Options.defaults().withQueueSize(64));
            BlockClient blk = new BlockClient(driver);

            // A supervisor restarts the device process once its queue threads have died, while the
            // driver keeps submitting (and waits while the rings are full).
            List<VduseDevice> second = new ArrayList<>();
            Thread supervisor = Thread.ofPlatform().start(() -> {
                try {
                    awaitDeadWorkers(first, served, killAfter);
                    first.detach();
                    second.add(start(kernel, disk, true, index -> new RamBlockHandler(disk, "second")));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Random random = new Random(0xdead);
            int requests = 400;
            byte[][] data = new byte[requests][];
            List<CompletableFuture<Completion>> writes = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                data[i] = new byte[VirtioBlk.SECTOR_SIZE * (1 + random.nextInt(8))];
                random.nextBytes(data[i]);
                writes.add(blk.write(i % 2, i * 8L, data[i]));
            }
            supervisor.join();
            assertThat(second).hasSize(1);
            for (int i = 0; i < requests; i++) {
                Completion done = writes.get(i).get(30, TimeUnit.SECONDS);
                assertThat(BlockClient.status(done)).as("write %d", i).isEqualTo(VirtioBlk.S_OK);
            }
            for (int i = 0; i < requests; i++) {
                Completion read = blk.read(i % 2, i * 8L, data[i].length).get(30, TimeUnit.SECONDS);
                assertThat(read.writable().get(0)).as("sector %d", i * 8).isEqualTo(data[i]);
            }
            assertThat(driver.strayCompletions(0) + driver.strayCompletions(1)).isZero();
            assertThat(served.get()).isGreaterThanOrEqualTo(killAfter);
            driver.close();
            second.get(0).close();
        }
    }

    @Test
    void aDeviceOfAsynchronousHandlersWithoutAnInflightLogIsNotResumedFromTheUsedIndex() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(20));
        try (Arena arena = Arena.ofShared()) {
            MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
            AsyncQueueHandler.Factory async = index -> {
                RamBlockHandler ram = new RamBlockHandler(disk, "async");
                return request -> {
                    ram.handle(request.chain());
                    request.complete();
                };
            };
            VduseDevice first = VduseDevice.builder("reconnect").kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                    .features(FEATURES).config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(2, 64)
                    .asyncHandlers(async).inflightLog(false).start();
            SimulatedDriver driver = SimulatedDriver.attach(kernel, "reconnect",
                    SimulatedDriver.Options.defaults().withQueueSize(64));
            BlockClient blk = new BlockClient(driver);
            assertThat(BlockClient.status(blk.write(0, 0, new byte[VirtioBlk.SECTOR_SIZE]).get(10, TimeUnit.SECONDS)))
                    .isEqualTo(VirtioBlk.S_OK);
            first.detach();
            // Completions of an asynchronous handler need not be a prefix of the ring: resuming at
            // used->idx could complete one twice and lose another. Without the in-flight log (which
            // InflightCrashTest resumes such devices from) the queues stay stopped instead.
            try (VduseDevice second = VduseDevice.builder("reconnect").kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                    .features(FEATURES).config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(2, 64)
                    .asyncHandlers(async).inflightLog(false).reconnect(true).start()) {
                assertThat(second.queueRunning(0)).isFalse();
                assertThat(second.queueRunning(1)).isFalse();
                assertThat(second.status() & io.vduse.api.virtio.VirtioStatus.DEVICE_NEEDS_RESET).isNotZero();
                // A reset by the driver brings it back.
                driver.reset();
                assertThat(BlockClient.status(blk.write(1, 8, new byte[VirtioBlk.SECTOR_SIZE]).get(10, TimeUnit.SECONDS)))
                        .isEqualTo(VirtioBlk.S_OK);
                driver.close();
            }
        }
    }

    private static void awaitDeadWorkers(VduseDevice device, AtomicInteger served, int killAfter)
            throws InterruptedException {
        // Both queues get requests in turn, so both threads die soon after the count is reached.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (served.get() < killAfter + 1 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        Thread.sleep(200);
        assertThat(device.completed(0) + device.completed(1)).isLessThan(served.get());
    }
}
