package io.vduse.core;

import io.vduse.core.internal.events.SlowRequest;
import io.vduse.virtqueue.DescriptorChain;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One request taken from a virtqueue and in flight until {@link #complete} is called, on any
 * thread. Its {@link #chain()} holds the driver's buffers; write the answer with
 * {@code chain().writer()} (or hand the chain's memory to a system call), then complete it.
 *
 * <p>A request object is recycled by its queue once the completion reached the ring: keep nothing
 * of it after {@code complete}. Completing costs no lock and no allocation: the request goes to
 * its queue's thread through a lock-free hand-off, and that thread returns it to the driver with
 * others of the same batch.
 */
public final class Request {

    static final int FREE = 0;
    static final int IN_FLIGHT = 1;
    static final int COMPLETED = 2;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Request.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final QueueRun run;
    private final DescriptorChain chain;
    /** FREE, IN_FLIGHT or COMPLETED; moved by CAS so that a second completion is caught. */
    @SuppressWarnings("unused") // accessed through STATE
    private volatile int state;
    /** The used length, written by the completing thread before the hand-off publishes it. */
    int usedLength;
    /** The reclaim ticket of the queue when it popped this request; queue thread only. */
    long ticket;
    /** The next request in the hand-off stack. */
    Request next;
    /**
     * This slot's {@code io.vduse.SlowRequest} event, made once with the request and begun again
     * for each use while the event is enabled: the queue thread alone touches it.
     */
    final SlowRequest slow = new SlowRequest();
    /** Whether {@link #slow} was begun for the use in flight (the event was enabled when it started). */
    boolean timed;

    Request(QueueRun run, DescriptorChain chain) {
        this.run = run;
        this.chain = chain;
    }

    /** The driver's buffers: read the request, write the answer. */
    public DescriptorChain chain() {
        return chain;
    }

    /** The index of the queue the request came from. */
    public int queueIndex() {
        return run.index();
    }

    /**
     * Completes the request with what the chain's writer wrote as the used length (at most the
     * chain's writable length).
     *
     * @throws IllegalStateException if the request was completed already
     */
    public void complete() {
        complete(Math.min(chain.writer().bytesWritten(), chain.writableLength()));
    }

    /**
     * Completes the request: the driver sees {@code usedLength} bytes written into its writable
     * buffers.
     *
     * @throws IllegalArgumentException if {@code usedLength} is negative or above the chain's
     *     writable length
     * @throws IllegalStateException if the request was completed already
     */
    public void complete(long usedLength) {
        if (usedLength < 0 || usedLength > chain.writableLength()) {
            throw new IllegalArgumentException("used length %d outside 0..%d"
                    .formatted(usedLength, chain.writableLength()));
        }
        if (!STATE.compareAndSet(this, IN_FLIGHT, COMPLETED)) {
            throw new IllegalStateException("request on queue " + run.index() + " completed twice");
        }
        this.usedLength = (int) usedLength;
        run.completed(this);
    }

    /**
     * Completes the request if nobody did yet: for the SDK after a handler threw, when the
     * handler may have handed the request to another thread first. Returns whether it did.
     */
    boolean completeIfInFlight(long usedLength) {
        if (!STATE.compareAndSet(this, IN_FLIGHT, COMPLETED)) {
            return false;
        }
        this.usedLength = (int) Math.min(Math.max(usedLength, 0), chain.writableLength());
        run.completed(this);
        return true;
    }

    /** Whether the request is in flight (started, not completed). */
    public boolean inFlight() {
        return state == IN_FLIGHT;
    }

    void started() {
        state = IN_FLIGHT;
    }

    void recycle() {
        state = FREE;
    }

    QueueRun run() {
        return run;
    }

    @Override
    public String toString() {
        return "Request[queue " + run.index() + ", chain " + chain.id() + "]";
    }
}
