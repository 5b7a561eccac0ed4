package io.vduse.it.guest;

import io.vduse.core.AsyncQueueHandler;
import io.vduse.core.RamBlockHandler;
import io.vduse.core.Request;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * An asynchronous RAM block handler for the real-kernel tests: each request is served on one of
 * several threads after a random delay, so requests complete out of the order the driver made
 * them available. Counts how often a request completed before one started earlier
 * ({@link #outOfOrder()}), so a test can show the disorder really happened.
 */
final class DelayingAsyncHandler implements AsyncQueueHandler {

    private static final long MAX_DELAY_NANOS = 300_000;

    private final ExecutorService pool;
    private final ThreadLocal<RamBlockHandler> ram;
    private final SplittableRandom seeds;
    private final AtomicLong started = new AtomicLong();
    private final AtomicLong highestCompleted = new AtomicLong(-1);
    private final AtomicLong outOfOrder;

    DelayingAsyncHandler(MemorySegment disk, String serial, ExecutorService pool, long seed, AtomicLong outOfOrder) {
        this.pool = pool;
        this.ram = ThreadLocal.withInitial(() -> new RamBlockHandler(disk, serial));
        this.seeds = new SplittableRandom(seed);
        this.outOfOrder = outOfOrder;
    }

    @Override
    public void start(Request request) {
        long sequence = started.getAndIncrement();
        long delay = seeds.nextLong(MAX_DELAY_NANOS);
        pool.execute(() -> {
            LockSupport.parkNanos(delay);
            try {
                ram.get().handle(request.chain());
            } catch (Exception e) {
                ram.get().failed(request.chain(), e);
            }
            if (highestCompleted.getAndAccumulate(sequence, Math::max) > sequence) {
                outOfOrder.incrementAndGet();
            }
            request.complete();
        });
    }
}
