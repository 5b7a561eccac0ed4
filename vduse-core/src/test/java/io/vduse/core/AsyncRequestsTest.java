package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.IoVectors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Requests an {@link AsyncQueueHandler} holds: their memory across an IOTLB update, and a queue
 * that stops popping while its device says it is full.
 */
class AsyncRequestsTest {

    private static final int SECTORS = 4096;
    private static final int SECTOR = VirtioBlk.SECTOR_SIZE;

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * SECTOR);
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
        arena.close();
    }

    private VduseDevice start(String name, long features, AsyncQueueHandler handler) throws Exception {
        return toClose.add(VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(features | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX))
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes())
                .queues(1, 128)
                .asyncHandlers(index -> handler)
                .start());
    }

    private static byte patternByte(long sector, int offset, int salt) {
        return (byte) (sector * 31 + offset * 7 + salt);
    }

    /** {@code sectors} sectors of the pattern from {@code sector}. */
    private static byte[] pattern(long sector, int sectors, int salt) {
        byte[] data = new byte[sectors * SECTOR];
        for (int i = 0; i < data.length; i++) {
            data[i] = patternByte(sector + i / SECTOR, i % SECTOR, salt);
        }
        return data;
    }

    private void fillDisk(long sector, int sectors, int salt) {
        MemorySegment.copy(pattern(sector, sectors, salt), 0, disk, ValueLayout.JAVA_BYTE, sector * SECTOR,
                sectors * SECTOR);
    }

    private static Completion await(CompletableFuture<Completion> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    private static void awaitTrue(BooleanSupplier condition, Duration bound, String what) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + bound + ": " + what);
            }
            Thread.sleep(5);
        }
    }

    // ---- an IOTLB update while requests are held ----------------------------------------------

    /** A request held by {@link HoldingBlockHandler}, with what it read of the header. */
    private record Held(Request request, int type, long sector, IoVectors raw) {}

    /**
     * A virtio-blk RAM handler that reads each request's header on the queue's thread and, while
     * {@link #hold} is set, keeps the request to finish later on another thread; every other
     * read also takes the raw addresses of its data buffers at once, to write through them later.
     */
    private final class HoldingBlockHandler implements AsyncQueueHandler {
        volatile boolean hold = true;
        final List<Held> held = new CopyOnWriteArrayList<>();
        private int reads;

        @Override
        public void start(Request request) {
            ChainReader in = request.chain().reader();
            int type = in.readIntLe();
            in.readIntLe();
            long sector = in.readLongLe();
            IoVectors raw = null;
            if (type == VirtioBlk.T_IN && reads++ % 2 == 0) {
                // Raw addresses, as a backend would hand them to preadv(2): valid only while the
                // memory stays mapped, which the SDK promises until the request completes.
                raw = new IoVectors(16, 1);
                assertThat(request.chain().writer().appendTo(raw, request.chain().writableLength() - 1)).isTrue();
            }
            Held h = new Held(request, type, sector, raw);
            if (hold) {
                held.add(h);
            } else {
                finish(h);
            }
        }

        @SuppressWarnings("restricted") // writing through the raw addresses is the point
        void finish(Held h) {
            ChainReader in = h.request().chain().reader();
            ChainWriter out = h.request().chain().writer();
            long at = h.sector() * SECTOR;
            if (h.type() == VirtioBlk.T_OUT) {
                long length = in.remaining();
                in.read(disk, at, length);
            } else if (h.raw() != null) {
                for (int i = 0; i < h.raw().count(); i++) {
                    long length = h.raw().length(i);
                    MemorySegment.ofAddress(h.raw().address(i)).reinterpret(length)
                            .copyFrom(disk.asSlice(at, length));
                    at += length;
                }
            } else {
                out.write(disk, at, out.remaining() - 1);
            }
            out.writeByte((byte) VirtioBlk.S_OK);
            h.request().complete();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void anIotlbUpdateWhileRequestsAreHeldNeitherFaultsNorPutsDataInTheWrongPlace(boolean packed) throws Exception {
        String name = packed ? "held-packed" : "held-split";
        HoldingBlockHandler handler = new HoldingBlockHandler();
        long features = VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        VduseDevice device = start(name, features, handler);
        // Packed with indirect tables (in coherent memory, retired too), split with direct
        // chains (three descriptors each: the ring holds 42).
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, name,
                SimulatedDriver.Options.defaults().withQueueSize(128).withIndirect(packed)));
        BlockClient blk = new BlockClient(driver);
        int salt = packed ? 1 : 2;

        // 24 requests held: reads of sectors the disk has a pattern in, writes of another.
        int requests = 24;
        List<CompletableFuture<Completion>> futures = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            long sector = 64L * i;
            if (i % 2 == 0) {
                fillDisk(sector, 3, salt);
                futures.add(blk.read(0, sector, 3 * SECTOR));
            } else {
                futures.add(blk.write(0, sector, pattern(sector, 3, salt + 100)));
            }
        }
        awaitTrue(() -> handler.held.size() == requests, Duration.ofSeconds(10), "the handler holds every request");
        assertThat(device.retiredMappings()).isZero();

        // Memory leaves translation; what the held requests use must stay mapped.
        driver.updateIotlb(0, -1L);
        assertThat(device.retiredMappings())
                .as("%s: mappings retired by the update while %d requests popped before it are in flight", name,
                        requests)
                .isPositive();

        // A request made after the update is served at once, through fresh translations and
        // re-sliced rings.
        handler.hold = false;
        fillDisk(2000, 2, salt + 7);
        Completion fresh = await(blk.read(0, 2000, 2 * SECTOR));
        assertThat(BlockClient.status(fresh)).isEqualTo(VirtioBlk.S_OK);
        assertThat(fresh.writable().get(0)).isEqualTo(pattern(2000, 2, salt + 7));

        // Idle ticks of the message thread (every 50 ms) release nothing a held request uses.
        Thread.sleep(200);
        assertThat(device.retiredMappings()).as(name + ": retired mappings while held, after idle ticks")
                .isPositive();

        // Finished later, on another thread, last first.
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread finisher = Thread.ofPlatform().name("finisher").start(() -> {
            try {
                for (int i = handler.held.size() - 1; i >= 0; i--) {
                    handler.finish(handler.held.get(i));
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        finisher.join(30_000);
        assertThat(failure.get()).as(name + ": finishing the held requests").isNull();
        for (int i = 0; i < requests; i++) {
            Completion c = await(futures.get(i));
            long sector = 64L * i;
            assertThat(BlockClient.status(c)).as("%s: request %d", name, i).isEqualTo(VirtioBlk.S_OK);
            if (i % 2 == 0) {
                assertThat(c.writable().get(0)).as("%s: read %d, written after the update", name, i)
                        .isEqualTo(pattern(sector, 3, salt));
            } else {
                assertThat(disk.asSlice(sector * SECTOR, 3 * SECTOR).toArray(ValueLayout.JAVA_BYTE))
                        .as("%s: write %d, read from the driver's memory after the update", name, i)
                        .isEqualTo(pattern(sector, 3, salt + 100));
            }
        }
        // And the writes read back through the driver, over the new mappings.
        for (int i = 1; i < requests; i += 2) {
            Completion c = await(blk.read(0, 64L * i, 3 * SECTOR));
            assertThat(c.writable().get(0)).isEqualTo(pattern(64L * i, 3, salt + 100));
        }

        // Nothing holds the old memory now: the message thread releases it at its next idle tick.
        awaitTrue(() -> device.retiredMappings() == 0, Duration.ofSeconds(5),
                name + ": retired mappings released after the last held request completed");
        assertThat(VirtioStatus.has(device.status(), VirtioStatus.DEVICE_NEEDS_RESET)).isFalse();
        assertThat(device.queueRunning(0)).isTrue();
        assertThat(device.completed(0)).isEqualTo(requests + 1 + requests / 2);
        assertThat(driver.strayCompletions(0)).isZero();
        assertThat(driver.inFlight(0)).isZero();
    }

    // ---- a device that says it is full ------------------------------------------------------------

    /**
     * Holds each request and pauses popping itself (on the queue's thread) once
     * {@link #capacity} are outstanding; with {@link #serve} it answers at once instead.
     */
    private final class FullDevice implements AsyncQueueHandler {
        final int capacity;
        volatile boolean serve;
        volatile QueueContext queue;
        final AtomicInteger started = new AtomicInteger();
        final List<Request> held = new CopyOnWriteArrayList<>();

        FullDevice(int capacity) {
            this.capacity = capacity;
        }

        @Override
        public void queueStarted(QueueContext context) {
            this.queue = context;
        }

        @Override
        public void start(Request request) {
            started.incrementAndGet();
            if (serve) {
                answer(request);
                return;
            }
            held.add(request);
            if (held.size() >= capacity) {
                queue.pausePopping();
            }
        }

        void answer(Request request) {
            ChainReader in = request.chain().reader();
            in.skip(8);
            long sector = in.readLongLe();
            ChainWriter out = request.chain().writer();
            out.write(disk, sector * SECTOR, out.remaining() - 1);
            out.writeByte((byte) VirtioBlk.S_OK);
            request.complete();
        }

        /** Answers the oldest held request, on the calling thread. */
        void answerOne() {
            answer(held.removeFirst());
        }
    }

    @Test
    void aPausedQueuePopsNothingUntilResumed() throws Exception {
        int capacity = 4;
        FullDevice handler = new FullDevice(capacity);
        VduseDevice device = start("full", 0, handler);
        // Room for 21 chains of three descriptors: the driver never waits for the device.
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, "full",
                SimulatedDriver.Options.defaults().withQueueSize(64)));
        BlockClient blk = new BlockClient(driver);
        fillDisk(0, 64, 9);
        List<CompletableFuture<Completion>> futures = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            futures.add(blk.read(0, i, SECTOR));
        }

        // Paused by the handler itself, on the queue's thread, at 4 outstanding.
        awaitTrue(() -> handler.started.get() == capacity, Duration.ofSeconds(10), "4 requests started");
        assertThat(handler.queue.inFlight()).isEqualTo(capacity);
        // A completion wakes the queue's thread, which pushes it and, paused, pops nothing. The
        // driver seeing it is the witness: a step pops before it publishes.
        handler.answerOne();
        await(futures.get(0));
        assertThat(handler.started.get()).as("started while paused").isEqualTo(capacity);
        assertThat(handler.queue.inFlight()).isEqualTo(capacity - 1);
        assertThat(driver.inFlight(0)).isEqualTo(12 - 1);

        // Resumed from another thread: it pops until the handler is full again, one more.
        handler.queue.resumePopping();
        awaitTrue(() -> handler.started.get() == capacity + 1, Duration.ofSeconds(10), "one more started");
        handler.answerOne();
        await(futures.get(1));
        assertThat(handler.started.get()).as("started while paused again").isEqualTo(capacity + 1);

        // Resumed with room for all: the rest is popped and answered at once.
        handler.serve = true;
        handler.queue.resumePopping();
        for (int i = capacity + 1; i < 12; i++) {
            await(futures.get(i));
        }
        assertThat(handler.started.get()).isEqualTo(12);

        // Paused from another thread while the queue is idle: new chains and their kicks wait.
        handler.queue.pausePopping();
        for (int i = 12; i < 16; i++) {
            futures.add(blk.read(0, i, SECTOR));
        }
        handler.answerOne();
        await(futures.get(2));
        assertThat(handler.started.get()).as("started while paused by another thread").isEqualTo(12);
        assertThat(driver.inFlight(0)).isEqualTo(4 + 2);

        handler.queue.resumePopping();
        for (int i = 12; i < 16; i++) {
            await(futures.get(i));
        }
        assertThat(handler.started.get()).isEqualTo(16);
        while (!handler.held.isEmpty()) {
            handler.answerOne();
        }
        for (int i = 0; i < futures.size(); i++) {
            Completion c = await(futures.get(i));
            assertThat(BlockClient.status(c)).isEqualTo(VirtioBlk.S_OK);
            assertThat(c.writable().get(0)).as("read %d", i).isEqualTo(pattern(i, 1, 9));
        }
        assertThat(device.completed(0)).isEqualTo(16);
        assertThat(driver.inFlight(0)).isZero();
        assertThat(driver.strayCompletions(0)).isZero();
    }
}
