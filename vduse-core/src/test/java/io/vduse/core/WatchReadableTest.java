package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.core.internal.EventFd;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link QueueContext#watchReadable}: a handler's descriptor wakes the queue's thread as a kick
 * does, and the handler reads it in {@link AsyncQueueHandler#endOfPass()} on that thread. The
 * descriptor here is an eventfd the test signals, as a TAP becomes readable when the host sends.
 */
class WatchReadableTest {

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
    }

    /** Holds every request until the watched eventfd says "data": then completes one per count. */
    private static final class WatchingHandler implements AsyncQueueHandler {
        final EventFd data;
        final ArrayDeque<Request> held = new ArrayDeque<>(); // queue thread only
        final Set<String> endOfPassThreads = ConcurrentHashMap.newKeySet();
        final AtomicInteger readsOfData = new AtomicInteger();
        volatile QueueContext queue;
        volatile Throwable refusedElsewhere;

        WatchingHandler() throws ErrnoException {
            this.data = new EventFd();
        }

        @Override
        public void queueStarted(QueueContext queue) {
            this.queue = queue;
            queue.watchReadable(data.fd());
        }

        @Override
        public void start(Request request) {
            held.add(request);
        }

        @Override
        public boolean endOfPass() {
            endOfPassThreads.add(Thread.currentThread().getName());
            long count;
            try {
                count = data.drain();
            } catch (ErrnoException e) {
                throw new IllegalStateException(e);
            }
            if (count > 0) {
                readsOfData.incrementAndGet();
            }
            boolean completed = false;
            for (long i = 0; i < count && !held.isEmpty(); i++) {
                Request r = held.poll();
                r.chain().writer().writeByte((byte) VirtioBlk.S_OK);
                r.complete();
                completed = true;
            }
            return completed;
        }
    }

    @Test
    void theWatchedDescriptorWakesTheQueueThreadWhichReadsItInEndOfPass() throws Exception {
        WatchingHandler handler = new WatchingHandler();
        toClose.add(handler.data);
        toClose.add(VduseDevice.builder("watch")
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .config(VirtioBlkConfig.ofCapacity(8).toBytes())
                .queues(1, 16)
                .asyncHandlers(index -> handler)
                .start());
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, "watch",
                SimulatedDriver.Options.defaults().withQueueSize(16)));
        CompletableFuture<Completion> first = new BlockClient(driver).read(0, 0, 512);
        CompletableFuture<Completion> second = new BlockClient(driver).read(0, 1, 512);
        Thread.sleep(200); // the queue's thread has gone to sleep with both held
        assertThat(first).isNotDone();

        handler.data.signal(); // no kick, no completion handed over: only the descriptor

        first.get(10, TimeUnit.SECONDS);
        assertThat(second).isNotDone();
        handler.data.signal();
        second.get(10, TimeUnit.SECONDS);
        assertThat(handler.readsOfData.get()).isEqualTo(2);
        assertThat(handler.endOfPassThreads).containsExactly("vduse-watch-q0");
        // The pollfd array is the queue thread's own: no other thread may change it.
        assertThatThrownBy(() -> handler.queue.watchReadable(-1)).as("from another thread")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("queue's thread");
    }
}
