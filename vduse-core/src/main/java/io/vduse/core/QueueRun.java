package io.vduse.core;

import io.vduse.api.VduseIoctls;
import io.vduse.core.internal.EventFd;
import io.vduse.core.internal.events.SlowRequest;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.VirtqueueException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One run of a queue, from the driver making it ready to its stop: the thread that owns the
 * ring, the requests in flight, and the hand-off of completions from other threads.
 *
 * <p>The run's thread alone pops, pushes, publishes and injects interrupts. Each step of its loop
 * takes the completions handed over since the last step, pushes them in completion order, pops
 * what the driver made available (while the handler, the control path and the ring size allow),
 * then publishes what is left and interrupts at most once for it; a long step also publishes
 * every {@link #PUBLISH_EVERY} completions on the way. Other threads talk to it
 * only through volatile flags and its wake-up eventfd, so the control path never waits for a
 * handler.
 */
final class QueueRun implements QueueContext {

    private static final System.Logger LOG = System.getLogger(QueueRun.class.getName());
    /**
     * Publish at least this often within a step. A driver that gets the first completions of a
     * long pass early submits again while the rest are served, rather than waiting for the whole
     * pass with nothing in flight it can reap; with EVENT_IDX a publish costs an interrupt only
     * when the driver asked for one. vduse-bench's tmpfs comparison (4 KiB, QD32, a guest with
     * two CPUs) put 8 and 16 ahead of 32 and 64 (once a pass), and 1 behind all of them.
     */
    private static final int PUBLISH_EVERY = 16;
    /** Pops per step before completions are looked at again. */
    private static final int POPS_PER_STEP = 64;
    private static final int POLL_FOREVER = -1;
    /** The kick eventfd, the wake-up eventfd and the handler's watched descriptor. */
    private static final int POLL_FDS = 3;
    /** Where the kick's, the wake-up eventfd's and the watched descriptor's {@code struct pollfd} start. */
    private static final long KICK_FD = 0;
    private static final long WAKE_FD = 8;
    private static final long WATCHED_FD = 16;
    /** Where {@code revents} is within a {@code struct pollfd}. */
    private static final long REVENTS = 6;
    /**
     * What makes an eventfd worth reading: POLLIN, or an error poll reports on its own (the read
     * then says what it is, rather than the loop spinning on a descriptor it never reads).
     */
    private static final short READ_EVENTS = Syscalls.POLLIN | Syscalls.POLLERR | Syscalls.POLLHUP;
    /** Retry delays for an interrupt the kernel refused because it has not seen DRIVER_OK yet. */
    private static final int OWED_IRQ_FIRST_MILLIS = 1;
    private static final int OWED_IRQ_MAX_MILLIS = 64;

    private static final VarHandle HEAD;
    private static final VarHandle SLEEPING;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            HEAD = lookup.findVarHandle(QueueRun.class, "completedHead", Request.class);
            SLEEPING = lookup.findVarHandle(QueueRun.class, "sleeping", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final QueueWorker worker;
    private final AsyncQueueHandler handler;
    private final int asid;
    private final boolean busyPoll;
    private final long features;
    private final EventFd wake;
    private final MemorySegment pollfds;
    private final MemorySegment irqArgument;
    private final Arena arena = Arena.ofShared();
    private final Thread thread;

    private DeviceQueue ring;
    /** The queue's in-flight log, which wraps the ring's pop, push and publish; null for none. */
    private final InflightLog log;
    /** Free requests, a stack; grown up to the ring size, then reused (queue thread only). */
    private Request[] free;
    private int freeCount;
    /** Request objects made so far, at most the ring size. */
    private int allocated;
    /** Requests popped and not yet pushed (queue thread only); {@link #inFlightView} for others. */
    private int inFlight;
    private volatile int inFlightView;
    private long unpublished;
    /** The used lengths of the requests pushed since the last publish. */
    private long unpublishedBytes;
    private boolean irqOwed;
    private int owedDelay;
    /** The reclaim ticket whose retirements this run's rings no longer use (queue thread only). */
    private long seenTicket;
    /** Requests in flight stamped with {@link #seenTicket}, and those stamped before it. */
    private int currentStamped;
    private int olderStamped;
    /** The lowest stamp among {@link #olderStamped}: a lower bound, exact enough for reclaiming. */
    private long olderSince;

    // ---- written by other threads ----
    /** Completions handed over by other threads, newest first; taken whole by the queue thread. */
    @SuppressWarnings("unused") // accessed through HEAD
    private volatile Request completedHead;
    /** Whether the queue thread sleeps in poll; a completer that clears it signals {@link #wake}. */
    @SuppressWarnings("unused") // accessed through SLEEPING
    private volatile boolean sleeping;
    private volatile boolean popPaused;
    /** Why the control path wants the run to end; null while it runs. */
    private volatile QueueStop stopRequest;
    /** Set when the run was given up on with requests still in flight. */
    private volatile boolean abandoned;
    /** Where the ring stands, after every step. */
    private volatile long stateWord;
    /**
     * The lowest reclaim ticket this run's requests and rings may still use; never above
     * {@link #seenTicket}, so that memory retired after the run's last look stays mapped.
     */
    private volatile long safeTicket;
    private volatile QueueStop stoppedFor;
    /** The stop request the handler was told of by {@code queueStopping}; queue thread only. */
    private QueueStop toldStopping;

    QueueRun(QueueWorker worker, DeviceQueue ring, int asid, AsyncQueueHandler handler, long features,
            boolean busyPoll, boolean oweInterrupt, InflightLog log) throws ErrnoException {
        this.worker = worker;
        this.ring = ring;
        this.log = log;
        this.asid = asid;
        this.handler = handler;
        this.features = features;
        this.busyPoll = busyPoll;
        this.wake = new EventFd();
        this.free = new Request[ring.size()];
        this.pollfds = arena.allocate(Syscalls.POLLFD, POLL_FDS);
        pollfds.set(ValueLayout.JAVA_INT, KICK_FD, worker.kickFd());
        pollfds.set(ValueLayout.JAVA_SHORT, KICK_FD + 4, Syscalls.POLLIN);
        pollfds.set(ValueLayout.JAVA_INT, WAKE_FD, wake.fd());
        pollfds.set(ValueLayout.JAVA_SHORT, WAKE_FD + 4, Syscalls.POLLIN);
        // The handler's descriptor (watchReadable): none yet, and poll(2) skips a negative fd.
        pollfds.set(ValueLayout.JAVA_INT, WATCHED_FD, -1);
        pollfds.set(ValueLayout.JAVA_SHORT, WATCHED_FD + 4, Syscalls.POLLIN);
        this.irqArgument = arena.allocate(ValueLayout.JAVA_INT);
        irqArgument.set(ValueLayout.JAVA_INT, 0, worker.index());
        this.stateWord = ring.stateWord();
        this.irqOwed = oweInterrupt;
        this.owedDelay = OWED_IRQ_FIRST_MILLIS;
        this.seenTicket = worker.reclaim().ticket();
        // Before the run is visible to the reclaim: it uses the rings it was built over.
        this.safeTicket = seenTicket;
        this.thread = Thread.ofPlatform().name(worker.name()).daemon(true).unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    QueueWorker worker() {
        return worker;
    }

    // ---- QueueContext ----

    @Override
    public int index() {
        return worker.index();
    }

    @Override
    public int size() {
        return ring.size();
    }

    @Override
    public long negotiatedFeatures() {
        return features;
    }

    @Override
    public boolean isPacked() {
        return ring.isPacked();
    }

    @Override
    public int inFlight() {
        return inFlightView;
    }

    @Override
    public void pausePopping() {
        popPaused = true;
    }

    @Override
    public void resumePopping() {
        popPaused = false;
        signal();
    }

    @Override
    public int wakeupEventFd() {
        return wake.fd();
    }

    @Override
    public void watchReadable(int fd) {
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException(worker.name() + ": watchReadable is for the queue's thread, not "
                    + Thread.currentThread().getName());
        }
        // Only this thread reads the pollfd array (in poll), so a plain write is enough.
        pollfds.set(ValueLayout.JAVA_INT, WATCHED_FD, fd < 0 ? -1 : fd);
    }

    // ---- the control path's side ----

    /** Asks the run to stop taking requests, settle those in flight, and end. */
    void requestStop(QueueStop reason) {
        stopRequest = reason;
        signal();
    }

    /** Takes back a stop that did not settle in time: the run serves on. */
    void cancelStop() {
        stopRequest = null;
        signal();
    }

    /** Waits up to {@code nanos} for the run to end; true if it did. */
    boolean awaitEnd(long nanos) {
        return io.vduse.core.internal.Threads.join(thread, nanos);
    }

    /**
     * Gives up on the requests still in flight: their completions are dropped, and the thread
     * ends as soon as the handler gives it back. Returns how many were in flight.
     */
    int abandon() {
        abandoned = true;
        signal();
        return inFlightView;
    }

    /** Where the ring stood after the last step (exact once the run ended). */
    long stateWord() {
        return stateWord;
    }

    long safeTicket() {
        return safeTicket;
    }

    int asid() {
        return asid;
    }

    /** Why the run ended, or null while it runs. */
    QueueStop stoppedFor() {
        return stoppedFor;
    }

    /** Wakes the queue thread (a command, a completion while it sleeps). */
    void signal() {
        try {
            wake.signal();
        } catch (ErrnoException e) {
            throw new IllegalStateException(worker.name() + ": cannot wake the queue thread", e);
        }
    }

    // ---- completions (any thread) ----

    void completed(Request request) {
        if (abandoned) {
            return; // its ring belongs to a driver session that is over
        }
        if (Thread.currentThread() == thread) {
            push(request);
            return;
        }
        Request head;
        do {
            head = completedHead;
            request.next = head;
            // The CAS publishes usedLength and next to the queue thread's getAndSet.
        } while (!HEAD.compareAndSet(this, head, request));
        // Volatile read after the volatile CAS: with the queue thread's write of `sleeping` before
        // its read of the head, one of the two sees the other, so a completion never waits for a
        // thread that went to sleep without seeing it.
        if (sleeping && SLEEPING.compareAndSet(this, true, false)) {
            signal();
        }
    }

    // ---- the queue thread ----

    private void run() {
        QueueStop end = QueueStop.BROKEN;
        boolean started = false;
        try {
            handler.queueStarted(this);
            started = true;
            resubmit();
            end = loop();
        } catch (Throwable e) {
            if (abandoned) {
                // Given up on at a reset: the ring's memory may be gone already; nothing to report.
                end = stopRequest != null ? stopRequest : QueueStop.RESET;
            } else if (e instanceof VirtqueueException driverFault) {
                LOG.log(Level.ERROR, "%s: the driver broke the ring (%s); the queue stops until the device is reset"
                        .formatted(worker.name(), driverFault.getMessage()));
                worker.broken(driverFault);
            } else {
                // Not the driver's fault: a refused interrupt, an Error from the handler, a bug of
                // ours. Only this queue stops, and visibly, so that the process and the others go on.
                LOG.log(Level.ERROR, "%s: serving the ring failed (%s); the queue stops until the device is reset"
                        .formatted(worker.name(), e), e);
                worker.broken(new VirtqueueException(VirtqueueException.Reason.IOVA_FAULT,
                        "serving the ring failed: " + e, e));
            }
        } finally {
            safeTicket = abandoned ? safeTicket : Long.MAX_VALUE;
            stoppedFor = end;
            if (started) {
                try {
                    handler.queueStopped(this, end);
                } catch (RuntimeException | Error e) {
                    LOG.log(Level.WARNING, "%s: the handler failed on stop: %s".formatted(worker.name(), e), e);
                }
            }
            closeQuietly();
        }
    }

    private QueueStop loop() throws ErrnoException {
        while (true) {
            if (abandoned) {
                return stopRequest != null ? stopRequest : QueueStop.RESET;
            }
            takeCompletions();
            followReclaim();
            QueueStop stop = stopRequest;
            if (stop != toldStopping) {
                // Once per stop request (a taken-back stop clears it, so the next one is told
                // again): the handler gives back what waits on events that may never come.
                toldStopping = stop;
                if (stop != null) {
                    tellStopping(stop);
                    takeCompletions();
                }
            }
            if (stop != null && inFlight == 0) {
                publish();
                return stop;
            }
            boolean mayPop = stop == null && !popPaused;
            boolean more = mayPop && popSome();
            // After the pops, so a handler that gathers submissions hands over the whole pass at
            // once; before publish, so what it completed goes out in this batch.
            if (handler.endOfPass()) {
                more = true;
            }
            publish();
            if (more) {
                continue;
            }
            // Re-armed before every sleep: with EVENT_IDX, enabling moves avail_event up to where
            // the device stands, and a driver kicks only when it passes that index.
            if (!busyPoll && mayPop && ring.enableNotifications()) {
                continue; // chains came in while kicks were off: no kick will announce them
            }
            boolean polled = waitForWork();
            if (abandoned) {
                continue;
            }
            // Only what poll found readable is read: a read of an empty eventfd is a system call
            // for nothing, and the one poll did not look at (it did not run) stays readable for
            // the next poll, which then returns at once.
            if (polled && readable(KICK_FD)) {
                worker.drainKick();
            }
            if (polled && readable(WAKE_FD)) {
                wake.drain();
            }
            if (!busyPoll && stopRequest == null && !popPaused) {
                ring.disableNotifications();
            }
        }
    }

    private void tellStopping(QueueStop stop) {
        try {
            handler.queueStopping(this, stop);
        } catch (RuntimeException e) {
            // What it did not give back settles, or is cancelled, as if it had not been asked.
            LOG.log(Level.WARNING, "%s: the handler failed when told of the stop: %s".formatted(worker.name(), e), e);
        }
    }

    /** Pops and starts up to a step's worth of requests; true if there may be more. */
    private boolean popSome() throws ErrnoException {
        for (int n = 0; n < POPS_PER_STEP; n++) {
            if (stopRequest != null || popPaused || abandoned) {
                return false;
            }
            Request request = take();
            if (request == null) {
                return false; // every request object is in flight: the ring cannot hold more
            }
            if (!(log != null ? log.pop(request.chain()) : ring.pop(request.chain()))) {
                free[freeCount++] = request;
                return false;
            }
            begin(request);
            if (unpublished >= PUBLISH_EVERY) {
                publish();
            }
        }
        return true;
    }

    /**
     * Serves again, in the order the killed process had taken them, the requests its in-flight
     * log holds, before anything new is popped.
     */
    private void resubmit() {
        while (log != null && log.hasResubmission()) {
            Request request = take(); // never null: at most a ring's worth was in flight
            log.resubmit(request.chain());
            worker.countResubmitted();
            begin(request);
        }
    }

    private void begin(Request request) {
        request.ticket = seenTicket;
        currentStamped++;
        // One static check while the event is off (the default): no allocation, no clock read.
        request.timed = request.slow.isEnabled();
        if (request.timed) {
            request.slow.begin();
        }
        request.started();
        inFlight++;
        inFlightView = inFlight;
        try {
            handler.start(request);
        } catch (Exception e) {
            worker.handlerFailed(e);
            long before = request.chain().writer().bytesWritten();
            try {
                handler.failed(request, e);
            } catch (RuntimeException again) {
                LOG.log(Level.WARNING, "%s: the handler's failed() threw too: %s".formatted(worker.name(), again),
                        again);
            }
            // The handler may have passed the request on before it threw: complete it only if
            // no one did, and without touching a chain another thread may be writing.
            if (request.inFlight()) {
                request.completeIfInFlight(worker.failures().answer(request.chain(), before));
            }
        }
    }

    private Request take() {
        if (freeCount > 0) {
            return free[--freeCount];
        }
        if (allocated == free.length) {
            return null;
        }
        // Made once per slot of the ring and then reused: no allocation per request afterwards.
        allocated++;
        return new Request(this, ring.newChain());
    }

    private void takeCompletions() throws ErrnoException {
        Request list = (Request) HEAD.getAndSet(this, null);
        if (list == null) {
            return;
        }
        // The stack is newest first; the ring gets them in the order they completed.
        Request ordered = null;
        while (list != null) {
            Request next = list.next;
            list.next = ordered;
            ordered = list;
            list = next;
        }
        while (ordered != null) {
            Request next = ordered.next;
            ordered.next = null;
            push(ordered);
            if (unpublished >= PUBLISH_EVERY) {
                publish();
            }
            ordered = next;
        }
    }

    private void push(Request request) {
        if (request.timed) {
            recordIfSlow(request);
        }
        if (log != null) {
            log.push(request.chain(), request.usedLength);
        } else {
            ring.push(request.chain(), request.usedLength);
        }
        if (request.ticket == seenTicket) {
            currentStamped--;
        } else if (--olderStamped == 0) {
            // The last request from before an IOTLB update completed: its memory may go.
            safeTicket = seenTicket;
        }
        request.recycle();
        free[freeCount++] = request;
        inFlight--;
        inFlightView = inFlight;
        unpublished++;
        unpublishedBytes += request.usedLength;
    }

    /** Commits the request's {@code io.vduse.SlowRequest} event if it took longer than the event's threshold. */
    private void recordIfSlow(Request request) {
        SlowRequest event = request.slow;
        event.end();
        if (event.shouldCommit()) {
            event.device = worker.deviceName();
            event.queue = worker.index();
            event.descriptor = request.chain().id();
            event.readable = request.chain().readableLength();
            event.writable = request.chain().writableLength();
            event.usedLength = request.usedLength;
            event.commit();
        }
    }

    /** Makes pushed elements visible with one index write and at most one interrupt. */
    private void publish() throws ErrnoException {
        // Before the driver can see anything of this batch: whoever it tells and then asks for
        // the queue's state (GET_VQ_STATE) gets a state that covers what it saw.
        stateWord = ring.stateWord();
        if (unpublished != 0) {
            // Counted before the driver can see them, so that whoever waits for a completion also
            // finds it counted; one volatile write per batch.
            worker.countCompleted(unpublished, unpublishedBytes);
            unpublished = 0;
            unpublishedBytes = 0;
        }
        boolean notify = log != null ? log.publish() : ring.publish();
        if (notify || irqOwed) {
            inject();
        }
    }

    private void inject() throws ErrnoException {
        try {
            worker.device().ioctl(VduseIoctls.VQ_INJECT_IRQ, irqArgument);
            irqOwed = false;
            worker.countInterrupt();
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EINVAL) {
                throw e;
            }
            // The kernel takes interrupts only once it has the answer to DRIVER_OK (and not while
            // suspended): our answer may still be on its way, or this process took the device
            // over before the driver's DRIVER_OK. Owe the interrupt and try again shortly.
            if (!irqOwed) {
                irqOwed = true;
                owedDelay = OWED_IRQ_FIRST_MILLIS;
            } else {
                owedDelay = Math.min(owedDelay * 2, OWED_IRQ_MAX_MILLIS);
            }
        }
    }

    /**
     * Re-slices the rings after an IOTLB update and says which retired memory it may still use:
     * requests stamped before the update hold it until the last of them completes (counted, so
     * that this costs nothing per request).
     */
    private void followReclaim() {
        long ticket = worker.reclaim().ticket();
        if (ticket == seenTicket) {
            return;
        }
        ring.remap();
        if (currentStamped > 0) {
            if (olderStamped == 0) {
                olderSince = seenTicket;
            }
            olderStamped += currentStamped;
            currentStamped = 0;
        }
        seenTicket = ticket;
        // Volatile write after the remap: the message thread that reads it releases the old ring
        // areas only once no pop of this run can go through them.
        safeTicket = olderStamped > 0 ? olderSince : seenTicket;
    }

    /**
     * Sleeps in poll until the kick, the wake-up eventfd or the watched descriptor is readable
     * (or an owed interrupt's retry is due). Returns whether the {@code revents} of the kick and
     * the wake-up eventfd say what to read now; false when there was nothing to wait for.
     */
    private boolean waitForWork() throws ErrnoException {
        int timeout = irqOwed ? owedDelay : POLL_FOREVER;
        if (busyPoll) {
            Thread.onSpinWait();
            if (!irqOwed) {
                // Busy polling never sleeps on the eventfds: both are read on every pass.
                setReadable(KICK_FD, Syscalls.POLLIN);
                setReadable(WAKE_FD, Syscalls.POLLIN);
                return true;
            }
        }
        sleeping = true;
        // Volatile write, then volatile read (see completed()).
        if (completedHead != null) {
            sleeping = false;
            return false;
        }
        int ready = Syscalls.poll(pollfds, POLL_FDS, busyPoll ? 0 : timeout);
        sleeping = false;
        worker.countWait();
        if (ready <= 0) {
            // Timed out, or a signal: nothing is known to be readable, and after EINTR revents
            // may still hold an earlier call's answer.
            setReadable(KICK_FD, (short) 0);
            setReadable(WAKE_FD, (short) 0);
        }
        return true;
    }

    /** Whether the last poll found the descriptor of the {@code struct pollfd} at {@code slot} readable. */
    private boolean readable(long slot) {
        return (pollfds.get(ValueLayout.JAVA_SHORT, slot + REVENTS) & READ_EVENTS) != 0;
    }

    private void setReadable(long slot, short revents) {
        pollfds.set(ValueLayout.JAVA_SHORT, slot + REVENTS, revents);
    }

    private void closeQuietly() {
        try {
            wake.close();
        } catch (ErrnoException e) {
            LOG.log(Level.DEBUG, "{0}: closing the wake-up eventfd: {1}", worker.name(), e.getMessage());
        }
        arena.close();
    }
}
