package io.vduse.core;

import io.vduse.api.VqState;
import io.vduse.core.internal.EventFd;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.VirtqueueException;
import java.lang.System.Logger.Level;

/**
 * One virtqueue of a device across the driver's sessions: its kick eventfd (which the kernel
 * keeps), its handler, its counters, and the {@link QueueRun} serving it while the driver has it
 * ready. Starting and stopping are the message thread's; stopping never waits longer than the
 * settle time it is given.
 */
final class QueueWorker {

    /** What the worker reports to its device. */
    interface Events {
        /** The queue broke (a bad ring, a refused interrupt, a handler's Error); it stops until the device is reset. */
        void queueBroken(int index, VirtqueueException cause);
    }

    /** How a stop went: the state the ring stood at, whether every request settled, how many were cancelled. */
    record Stopped(VqState state, boolean settled, int cancelled) {}

    private static final System.Logger LOG = System.getLogger(QueueWorker.class.getName());

    private final String name;
    private final String deviceName;
    private final int index;
    private final VduseFile device;
    private final AsyncQueueHandler handler;
    private final Events events;
    private final boolean busyPoll;
    private final MappingReclaim reclaim;
    private final FailureAnswer failures;
    private final EventFd kick;

    /** The run serving the ring, or null; written by the message thread. */
    private volatile QueueRun run;
    private volatile long completed;
    private volatile long usedBytes;
    private volatile long kicks;
    private volatile long interrupts;
    private volatile long waits;
    /** Why the queue last broke, until it starts again; null when it did not. */
    private volatile String brokenReason;
    private volatile long handlerFailures;
    private volatile long cancelled;
    private volatile long resubmitted;

    QueueWorker(String deviceName, int index, VduseFile device, AsyncQueueHandler handler, Events events,
            boolean busyPoll, MappingReclaim reclaim, FailureAnswer failures) throws ErrnoException {
        this.name = "vduse-" + deviceName + "-q" + index;
        this.deviceName = deviceName;
        this.index = index;
        this.device = device;
        this.handler = handler;
        this.events = events;
        this.busyPoll = busyPoll;
        this.reclaim = reclaim;
        this.failures = failures;
        this.kick = new EventFd();
    }

    /** The eventfd the kernel signals when the driver kicks this queue. */
    int kickFd() {
        return kick.fd();
    }

    int index() {
        return index;
    }

    String name() {
        return name;
    }

    /** The name of the device the queue belongs to. */
    String deviceName() {
        return deviceName;
    }

    VduseFile device() {
        return device;
    }

    MappingReclaim reclaim() {
        return reclaim;
    }

    FailureAnswer failures() {
        return failures;
    }

    /**
     * Starts serving {@code ring}, which translates through address space {@code asid}; the queue
     * must be stopped. With {@code oweInterrupt} the run interrupts the driver once first (after
     * taking a device over, for completions the old process did not announce). With a
     * {@code log} (null for none) the run keeps it up to date, and first serves again what it
     * holds from a killed process.
     */
    synchronized void start(DeviceQueue ring, int asid, long features, boolean oweInterrupt, InflightLog log)
            throws ErrnoException {
        QueueRun current = run;
        if (current != null && current.stoppedFor() == null) {
            throw new IllegalStateException(name + " is running");
        }
        QueueRun fresh = new QueueRun(this, ring, asid, handler, features, busyPoll, oweInterrupt, log);
        brokenReason = null;
        run = fresh;
        fresh.start();
    }

    /**
     * Stops serving: no request is taken from the ring any more, those in flight get up to
     * {@code settleNanos} to complete and be returned to the driver. If they do not, the run is
     * abandoned ({@code mayAbandon}: their completions will be dropped) or goes on as if the stop
     * had not been asked.
     *
     * @return how it went, or null if the queue was not being served
     */
    synchronized Stopped stop(QueueStop reason, long settleNanos, boolean mayAbandon) {
        QueueRun current = run;
        if (current == null) {
            return null;
        }
        current.requestStop(reason);
        if (current.awaitEnd(settleNanos)) {
            run = null;
            // The end of the thread orders its last ring writes before this read.
            return new Stopped(DeviceQueue.decodeState(current.stateWord(), current.isPacked()), true, 0);
        }
        if (!mayAbandon) {
            current.cancelStop();
            return new Stopped(null, false, current.inFlight());
        }
        int dropped = current.abandon();
        cancelled += dropped;
        run = null;
        LOG.log(Level.WARNING, "{0}: {1} request(s) still in flight after the settle time; they are cancelled "
                + "(their completions are dropped)", name, dropped);
        return new Stopped(DeviceQueue.decodeState(current.stateWord(), current.isPacked()), false, dropped);
    }

    /** Asks the run to end without waiting; {@link #stop} then collects it. */
    void requestStop(QueueStop reason) {
        QueueRun current = run;
        if (current != null) {
            current.requestStop(reason);
        }
    }

    /** Whether the queue is being served now (a run that ended on its own, broken, does not count). */
    boolean isRunning() {
        QueueRun current = run;
        return current != null && current.stoppedFor() == null;
    }

    /** Where the ring stands, as of the run's last step; null if no run. */
    VqState state() {
        QueueRun current = run;
        return current == null ? null : DeviceQueue.decodeState(current.stateWord(), current.isPacked());
    }

    /** The address space the running ring translates through, or -1. */
    int runningAsid() {
        QueueRun current = run;
        return current == null ? -1 : current.asid();
    }

    /** The lowest reclaim ticket this queue may still use; the largest long if it uses none. */
    long safeTicket() {
        QueueRun current = run;
        return current == null ? Long.MAX_VALUE : current.safeTicket();
    }

    /** Wakes the running queue thread, e.g. to follow an IOTLB update. */
    void signal() {
        QueueRun current = run;
        if (current != null) {
            current.signal();
        }
    }

    /** Requests completed since the worker was made. */
    long completed() {
        return completed;
    }

    /** Bytes the device wrote into the driver's buffers (the used lengths), since the worker was made. */
    long usedBytes() {
        return usedBytes;
    }

    /** Kicks of the driver the queue took (the kick eventfd's counts), since the worker was made. */
    long kicks() {
        return kicks;
    }

    /** Requests in flight now: taken from the ring, not yet returned to it. */
    int inFlight() {
        QueueRun current = run;
        return current == null || current.stoppedFor() != null ? 0 : current.inFlight();
    }

    /** The size of the running ring; 0 while the queue is not served. */
    int ringSize() {
        QueueRun current = run;
        return current == null || current.stoppedFor() != null ? 0 : current.size();
    }

    /** Why the queue broke, until it starts again; null if it did not. */
    String brokenReason() {
        return brokenReason;
    }

    /** The device saw the queue break (a bad ring, a ring that could not be set up or resumed). */
    void noteBroken(String reason) {
        brokenReason = reason;
    }

    /** Interrupts injected since the worker was made. */
    long interrupts() {
        return interrupts;
    }

    /** Times the queue's thread waited in {@code poll(2)} for work, since the worker was made. */
    long waits() {
        return waits;
    }

    /** Requests whose handler threw. */
    long handlerFailures() {
        return handlerFailures;
    }

    /** Requests cancelled because they were still in flight when their queue had to stop. */
    long cancelled() {
        return cancelled;
    }

    /** Requests served again because a killed process had them in flight. */
    long resubmitted() {
        return resubmitted;
    }

    /** Stops the queue (settling for at most {@code settleNanos}) and closes the kick eventfd. */
    void close(long settleNanos) throws ErrnoException {
        stop(QueueStop.CLOSED, settleNanos, true);
        kick.close();
    }

    // ---- called by the run's thread ----

    void drainKick() throws ErrnoException {
        long n = kick.drain();
        if (n != 0) {
            kicks += n; // one writer: the run's thread; a volatile write only when kicked
        }
    }

    void countCompleted(long count, long bytes) {
        completed += count; // one writer: the run's thread
        usedBytes += bytes;
    }

    void countInterrupt() {
        interrupts++; // one writer: the run's thread
    }

    void countWait() {
        waits++; // one writer: the run's thread
    }

    void countResubmitted() {
        resubmitted++; // one writer: the run's thread
    }

    void handlerFailed(Exception e) {
        long failures = handlerFailures + 1;
        handlerFailures = failures;
        // The first few and then every thousandth, so that a failing backend cannot flood the log.
        if (failures <= 10 || failures % 1000 == 0) {
            LOG.log(Level.WARNING, "%s: request handler failed (%d so far): %s".formatted(name, failures, e), e);
        }
    }

    void broken(VirtqueueException cause) {
        events.queueBroken(index, cause);
    }
}
