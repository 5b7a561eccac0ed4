package io.vduse.core.internal;

import io.vduse.api.VduseIoctls;
import io.vduse.api.VqState;
import io.vduse.core.ErrnoException;
import io.vduse.core.QueueHandler;
import io.vduse.core.VduseFile;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.VirtqueueException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Runs one virtqueue on its own platform thread: waits for a kick, drains the ring in batches
 * through the queue's handler, and interrupts the driver only when notification suppression
 * asks for it. Nothing on the request path allocates or takes a lock per request: the worker
 * takes one uncontended lock per pass over the ring, so that the message thread can read a
 * consistent queue state between passes.
 */
public final class QueueWorker {

    /** What the worker reports to its device. */
    public interface Events {
        /** The driver broke the queue's rules; the queue stops until the device is reset. */
        void queueBroken(int index, VirtqueueException cause);
    }

    private static final System.Logger LOG = System.getLogger(QueueWorker.class.getName());
    /** Publish used elements at least this often within one long pass, so the driver sees progress. */
    private static final int PUBLISH_EVERY = 64;
    private static final int POLL_FOREVER = -1;

    private final String name;
    private final int index;
    private final VduseFile device;
    private final QueueHandler handler;
    private final Events events;
    private final boolean busyPoll;
    private final EventFd kick;
    private final EventFd wake;
    private final MemorySegment pollfds;
    private final MemorySegment irqArgument;
    private final ReentrantLock passLock = new ReentrantLock();

    private volatile boolean running;
    private volatile long completed;
    private volatile long interrupts;
    private volatile long handlerFailures;
    /** Requests pushed since the last publish; worker thread only. */
    private long unpublished;
    private DeviceQueue queue;
    private DescriptorChain chain;
    private Thread thread;
    private boolean broken;

    /**
     * A worker for queue {@code index}; its kick eventfd is {@link #kickFd()}, to be given to the
     * kernel with {@code VDUSE_VQ_SETUP_KICKFD}.
     */
    public QueueWorker(String deviceName, int index, VduseFile device, QueueHandler handler, Events events,
            boolean busyPoll) throws ErrnoException {
        this.name = "vduse-" + deviceName + "-q" + index;
        this.index = index;
        this.device = device;
        this.handler = handler;
        this.events = events;
        this.busyPoll = busyPoll;
        this.kick = new EventFd();
        this.wake = new EventFd();
        Arena arena = Arena.ofAuto();
        this.pollfds = arena.allocate(Syscalls.POLLFD, 2);
        pollfds.set(ValueLayout.JAVA_INT, 0, kick.fd());
        pollfds.set(ValueLayout.JAVA_SHORT, 4, Syscalls.POLLIN);
        pollfds.set(ValueLayout.JAVA_INT, 8, wake.fd());
        pollfds.set(ValueLayout.JAVA_SHORT, 12, Syscalls.POLLIN);
        this.irqArgument = arena.allocate(ValueLayout.JAVA_INT);
        irqArgument.set(ValueLayout.JAVA_INT, 0, index);
    }

    /** The eventfd the kernel signals when the driver kicks this queue. */
    public int kickFd() {
        return kick.fd();
    }

    /** Starts serving {@code ring}; the worker must be stopped. */
    public synchronized void start(DeviceQueue ring) {
        if (thread != null) {
            throw new IllegalStateException(name + " is running");
        }
        queue = ring;
        chain = ring.newChain();
        unpublished = 0;
        broken = false;
        running = true;
        thread = Thread.ofPlatform().name(name).daemon(true).start(this::run);
        // Chains may have been made available before the kick eventfd was watched.
        signalQuietly();
    }

    /**
     * Stops the thread and waits for it; the ring is forgotten. The thread stops between passes,
     * so every chain it popped is completed and published by then.
     *
     * @return where the ring stood when the worker stopped; null if it served none
     */
    public synchronized VqState stop() {
        Thread t = thread;
        if (t == null) {
            return null;
        }
        running = false;
        signalQuietly();
        Threads.joinUninterruptibly(t);
        // The join orders the worker's last ring writes before this read.
        VqState last = queue.state();
        thread = null;
        queue = null;
        chain = null;
        return last;
    }

    /** Whether the worker serves a ring. */
    public synchronized boolean isRunning() {
        return thread != null;
    }

    /** Where the ring stands, taken between two passes; null if the worker serves no ring. */
    public VqState state() {
        passLock.lock();
        try {
            DeviceQueue q = queue;
            return q == null ? null : q.state();
        } finally {
            passLock.unlock();
        }
    }

    /**
     * Holds the worker between passes: no chain is being handled, and every used element is
     * published, until {@link #resumePasses()}. The message thread takes this before it unmaps
     * memory that a handler or the ring may be reading.
     */
    public void pausePasses() {
        passLock.lock();
    }

    /** Lets the worker run passes again. */
    public void resumePasses() {
        passLock.unlock();
    }

    /**
     * Rebuilds the ring over freshly translated ring memory, from where the old one stood: after
     * an IOTLB update the old translation of the ring areas may be gone. Call between
     * {@link #pausePasses()} and {@link #resumePasses()}.
     *
     * @param rebuild makes the new ring from the old ring's state
     */
    public void rebuildRing(java.util.function.Function<VqState, DeviceQueue> rebuild) {
        if (!passLock.isHeldByCurrentThread()) {
            throw new IllegalStateException("rebuildRing needs the passes paused");
        }
        DeviceQueue q = queue;
        if (q == null || broken) {
            return;
        }
        DeviceQueue fresh = rebuild.apply(q.state());
        chain = fresh.newChain();
        queue = fresh;
        // Chains made available while the old translation was being dropped still want serving.
        signalQuietly();
    }

    /** Requests completed since the worker was made. */
    public long completed() {
        return completed;
    }

    /** Interrupts injected since the worker was made. */
    public long interrupts() {
        return interrupts;
    }

    /** Requests whose handler threw. */
    public long handlerFailures() {
        return handlerFailures;
    }

    /** Stops the worker and closes its eventfds. */
    public void close() throws ErrnoException {
        stop();
        kick.close();
        wake.close();
    }

    private void run() {
        try {
            while (running) {
                if (!busyPoll || broken) {
                    Syscalls.poll(pollfds, 2, POLL_FOREVER);
                }
                if (!running) {
                    break;
                }
                kick.drain();
                wake.drain();
                if (!broken) {
                    passLock.lock();
                    try {
                        pass();
                    } finally {
                        passLock.unlock();
                    }
                }
                if (busyPoll) {
                    Thread.onSpinWait();
                }
            }
        } catch (ErrnoException e) {
            LOG.log(Level.ERROR, name + " stopped: " + e.getMessage(), e);
        }
    }

    /** Drains the ring until it is empty with notifications enabled. */
    private void pass() throws ErrnoException {
        try {
            do {
                if (!busyPoll) {
                    queue.disableNotifications();
                }
                while (queue.pop(chain)) {
                    serve();
                    if (++unpublished == PUBLISH_EVERY) {
                        publish();
                    }
                }
                publish();
            } while (!busyPoll && queue.enableNotifications());
        } catch (VirtqueueException e) {
            broken = true;
            LOG.log(Level.ERROR, "%s: the driver broke the ring (%s); the queue stops until the device is reset"
                    .formatted(name, e.getMessage()));
            events.queueBroken(index, e);
        } catch (RuntimeException e) {
            // Not the driver's fault (an mmap the kernel refused, say, or a bug of ours): the same
            // treatment, so that the process and the other queues go on and the failure is seen.
            broken = true;
            LOG.log(Level.ERROR, "%s: serving the ring failed (%s); the queue stops until the device is reset"
                    .formatted(name, e), e);
            events.queueBroken(index, new VirtqueueException(VirtqueueException.Reason.IOVA_FAULT,
                    "serving the ring failed: " + e, e));
        }
    }

    private void serve() {
        try {
            handler.handle(chain);
        } catch (Exception e) {
            long failures = handlerFailures + 1;
            handlerFailures = failures;
            // Log the first few and then every thousandth, so that a failing backend cannot flood the log.
            if (failures <= 10 || failures % 1000 == 0) {
                LOG.log(Level.WARNING, "%s: request handler failed (%d so far): %s".formatted(name, failures, e), e);
            }
            handler.failed(chain, e);
        }
        long written = Math.min(chain.writer().bytesWritten(), chain.writableLength());
        queue.push(chain, (int) written);
    }

    private void publish() throws ErrnoException {
        if (unpublished != 0) {
            // Counted before the driver can see the requests complete, so that whoever waits for a
            // completion also finds it counted; one volatile write per batch, not per request.
            completed += unpublished;
            unpublished = 0;
        }
        if (queue.publish()) {
            device.ioctl(VduseIoctls.VQ_INJECT_IRQ, irqArgument);
            interrupts++;
        }
    }

    private void signalQuietly() {
        try {
            wake.signal();
        } catch (ErrnoException e) {
            throw new IllegalStateException(name + ": cannot wake the worker", e);
        }
    }
}
