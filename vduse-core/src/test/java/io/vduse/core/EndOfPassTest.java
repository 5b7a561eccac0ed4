package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A handler that works as an io_uring does: {@link AsyncQueueHandler#start} only gathers,
 * {@link AsyncQueueHandler#endOfPass} hands the pass's requests to a "kernel" (a thread here),
 * which does the I/O and signals {@link QueueContext#wakeupEventFd()}; the queue's thread then
 * takes the completions in {@code endOfPass} and completes the requests itself.
 */
class EndOfPassTest {

    private static final int SECTORS = 1024;
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

    /** The "kernel": does each submitted read after {@link #delayMillis}, then signals the eventfd it was given. */
    private final class RingLikeHandler implements AsyncQueueHandler {
        final long delayMillis;
        final List<Request> gathered = new ArrayList<>();          // queue thread only
        final LinkedBlockingQueue<Request> submitted = new LinkedBlockingQueue<>();
        final ConcurrentLinkedQueue<Request> done = new ConcurrentLinkedQueue<>();
        final Set<String> completingThreads = ConcurrentHashMap.newKeySet();
        final AtomicInteger passesWithSubmissions = new AtomicInteger();
        final AtomicInteger submittedCount = new AtomicInteger();
        final AtomicInteger stops = new AtomicInteger();
        volatile QueueStop stoppedFor;
        volatile int eventFd = -1;
        private final Thread worker;

        RingLikeHandler(long delayMillis) {
            this.delayMillis = delayMillis;
            this.worker = Thread.ofPlatform().daemon().name("fake-kernel").start(this::work);
        }

        @Override
        public void queueStarted(QueueContext queue) {
            eventFd = queue.wakeupEventFd();
        }

        @Override
        public void queueStopped(QueueContext queue, QueueStop reason) {
            stoppedFor = reason;
            stops.incrementAndGet();
        }

        @Override
        public void start(Request request) {
            gathered.add(request); // nothing reaches the "kernel" before the end of the pass
        }

        @Override
        public boolean endOfPass() {
            if (!gathered.isEmpty()) {
                passesWithSubmissions.incrementAndGet();
                submittedCount.addAndGet(gathered.size());
                submitted.addAll(gathered);
                gathered.clear();
            }
            boolean completed = false;
            Request r;
            while ((r = done.poll()) != null) {
                completingThreads.add(Thread.currentThread().getName());
                r.complete();
                completed = true;
            }
            return completed;
        }

        private void work() {
            try {
                while (true) {
                    Request r = submitted.take();
                    Thread.sleep(delayMillis); // long enough for the queue's thread to fall asleep
                    ChainReader in = r.chain().reader();
                    in.skip(8);
                    long sector = in.readLongLe();
                    ChainWriter out = r.chain().writer();
                    out.write(disk, sector * SECTOR, out.remaining() - 1);
                    out.writeByte((byte) VirtioBlk.S_OK);
                    done.add(r);
                    signal();
                }
            } catch (InterruptedException e) {
                // test over
            }
        }

        private void signal() {
            try (Arena call = Arena.ofConfined()) {
                MemorySegment one = call.allocate(ValueLayout.JAVA_LONG);
                one.set(ValueLayout.JAVA_LONG, 0, 1);
                Syscalls.write(eventFd, one, 8);
            } catch (ErrnoException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private VduseDevice start(String name, RingLikeHandler handler) throws Exception {
        return toClose.add(VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(VirtioFeatures.bit(VirtioFeatures.EVENT_IDX))
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes())
                .queues(1, 64)
                .asyncHandlers(index -> handler)
                .start());
    }

    private void fill(long sector, int salt) {
        for (int i = 0; i < SECTOR; i++) {
            disk.set(ValueLayout.JAVA_BYTE, sector * SECTOR + i, (byte) (sector * 13 + i + salt));
        }
    }

    @Test
    void completionsSignalledOnTheWakeupEventFdAreTakenAndCompletedOnTheQueueThread() throws Exception {
        RingLikeHandler handler = new RingLikeHandler(20);
        toClose.add((AutoCloseable) handler.worker::interrupt);
        VduseDevice device = start("eop", handler);
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, "eop",
                SimulatedDriver.Options.defaults().withQueueSize(64)));
        BlockClient blk = new BlockClient(driver);
        List<CompletableFuture<Completion>> futures = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            fill(i, 5);
            futures.add(blk.read(0, i, SECTOR));
        }
        for (int i = 0; i < 16; i++) {
            Completion c = futures.get(i).get(30, TimeUnit.SECONDS);
            assertThat(BlockClient.status(c)).isEqualTo(VirtioBlk.S_OK);
            assertThat(c.writable().get(0)).isEqualTo(disk.asSlice((long) i * SECTOR, SECTOR).toArray(ValueLayout.JAVA_BYTE));
        }
        // Only the queue's thread completed: the "kernel" thread never called complete().
        assertThat(handler.completingThreads).containsExactly("vduse-eop-q0");
        assertThat(handler.submittedCount.get()).isEqualTo(16);
        assertThat(device.completed(0)).isEqualTo(16);
        assertThat(driver.inFlight(0)).isZero();
    }

    @Test
    void aResetWhileTheKernelHoldsRequestsSettlesThroughEndOfPass() throws Exception {
        RingLikeHandler handler = new RingLikeHandler(200);
        toClose.add((AutoCloseable) handler.worker::interrupt);
        start("eop-reset", handler);
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, "eop-reset",
                SimulatedDriver.Options.defaults().withQueueSize(64)));
        BlockClient blk = new BlockClient(driver);
        List<CompletableFuture<Completion>> futures = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            futures.add(blk.read(0, i, SECTOR));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (handler.submittedCount.get() < 4 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(handler.submittedCount.get()).isEqualTo(4);
        // The reset waits for the requests in flight (settle timeout): they complete through
        // endOfPass, woken by the eventfd, so the queue stops as RESET, not cancelled.
        driver.reset();
        assertThat(handler.stops.get()).isEqualTo(1);
        assertThat(handler.stoppedFor).isEqualTo(QueueStop.RESET);
        assertThat(handler.done).isEmpty();
    }
}
