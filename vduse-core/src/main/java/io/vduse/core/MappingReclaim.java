package io.vduse.core;

import io.vduse.iova.AddressSpace;
import io.vduse.iova.Mapping;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.List;

/**
 * Keeps memory that an IOTLB update took out of translation mapped until no request in flight
 * and no ring can still be using it, then gives it back.
 *
 * <p>Each update that retires mappings takes the next <em>ticket</em>. A queue stamps every request
 * it pops with the last ticket it has seen, and sees a ticket only after re-slicing its rings; so
 * a mapping retired under ticket {@code t} may still be used by a request stamped below
 * {@code t}, or by a queue that has not seen {@code t}, and by nothing else. Each queue reports the
 * lowest ticket it may still use ({@link QueueWorker#safeTicket()}); the mapping goes back once every
 * queue reports at least {@code t}. The message thread never waits for that: the kernel's message
 * is answered once no new translation can find the memory, and the release happens on a thread
 * of its own.
 */
final class MappingReclaim {

    private static final System.Logger LOG = System.getLogger(MappingReclaim.class.getName());

    private record Retired(long ticket, AddressSpace space, Mapping mapping) {}

    private final String name;
    private final ArrayDeque<Retired> retired = new ArrayDeque<>();
    /** The last ticket handed out; written under this object's lock, read by queue threads. */
    private volatile long ticket;
    /** Whether anything waits to be released: queues compute their safe ticket only then. */
    private volatile boolean pending;
    private QueueWorker[] workers = new QueueWorker[0];
    /** Releases retired memory off the message thread: closing a mapping's arena waits for every thread. */
    private final Thread releaser;
    private volatile boolean closed;

    MappingReclaim(String deviceName) {
        this.name = deviceName;
        this.releaser = Thread.ofPlatform().name("vduse-" + deviceName + "-reclaim").daemon(true)
                .unstarted(this::releaseLoop);
    }

    /** Starts the thread that releases retired memory. */
    void start() {
        releaser.start();
    }

    /**
     * Asks the releasing thread to look: cheap, for the message thread after each message and for
     * queues whose last old request completed.
     */
    void nudge() {
        if (pending) {
            java.util.concurrent.locks.LockSupport.unpark(releaser);
        }
    }

    private void releaseLoop() {
        while (!closed) {
            // Woken by nudge(), and every 50 ms while something waits, so that a queue whose old
            // requests completed without a nudge still lets go soon.
            java.util.concurrent.locks.LockSupport.parkNanos(this, pending ? 50_000_000L : 1_000_000_000L);
            try {
                reclaim();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "%s: releasing retired memory failed: %s".formatted(name, e), e);
            }
        }
    }

    /** Stops the releasing thread (after {@link #releaseAll()} at close). */
    void stop() {
        closed = true;
        java.util.concurrent.locks.LockSupport.unpark(releaser);
        io.vduse.core.internal.Threads.joinUninterruptibly(releaser);
    }

    /** The queues whose requests and rings may use retired memory. */
    synchronized void watch(QueueWorker[] queues) {
        this.workers = queues.clone();
    }

    /** The last ticket: a queue that sees it moved re-slices its rings. */
    long ticket() {
        return ticket;
    }

    /** Whether retired memory waits for the queues. */
    boolean pending() {
        return pending;
    }

    /**
     * Takes {@code [start, last]} of {@code space} out of translation and keeps what it held until
     * it is safe to release; returns how many mappings were retired (0: no ring needs re-slicing).
     */
    synchronized int retire(AddressSpace space, long start, long last) {
        long next = ticket + 1;
        int count = space.retire(start, last, m -> retired.add(new Retired(next, space, m)));
        if (count > 0) {
            // Published after the mappings left translation: a queue that sees this ticket and
            // then pops translates only through what is left.
            ticket = next;
            pending = true;
        }
        return count;
    }

    /**
     * Releases whatever no queue can be using any more: on the releasing thread, so that neither
     * the message thread nor a queue thread spends its time unmapping. Cheap when nothing is
     * pending.
     */
    void reclaim() {
        if (!pending) {
            return;
        }
        List<Retired> releasable = new java.util.ArrayList<>();
        synchronized (this) {
            long safe = Long.MAX_VALUE;
            for (QueueWorker w : workers) {
                safe = Math.min(safe, w.safeTicket());
            }
            while (!retired.isEmpty() && retired.peekFirst().ticket() <= safe) {
                releasable.add(retired.pollFirst());
            }
            pending = !retired.isEmpty();
        }
        // Outside the lock: closing an arena waits for every thread, and retire() must not wait.
        releasable.forEach(this::release);
    }

    /**
     * Releases everything retired, whoever may use it: at a reset after the queues settled or
     * were cancelled, and at close. A Java access to released memory then fails instead of
     * landing in memory the driver no longer gave us.
     */
    synchronized void releaseAll() {
        while (!retired.isEmpty()) {
            release(retired.pollFirst());
        }
        pending = false;
    }

    /** Mappings waiting to be released; for tests and diagnostics. */
    synchronized List<Mapping> waiting() {
        return retired.stream().map(Retired::mapping).toList();
    }

    private void release(Retired r) {
        try {
            r.space().release(r.mapping());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "%s: releasing %s failed: %s".formatted(name, r.mapping(), e), e);
        }
    }
}
