package io.vduse.core.sim;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

/**
 * A request of the {@link SimulatedDriver} whose buffers stay in the driver's coherent memory and
 * that is made available again and again without allocating anything: for measuring the
 * device's own path (vduse-bench), where {@link SimulatedDriver#submit(int, java.util.List, int...)}'s
 * futures, copies and bounce mappings would be most of what is measured. Made once by
 * {@link SimulatedDriver#fixedRequest}; sent with {@link SimulatedDriver#submit(FixedRequest)},
 * and again only after it is {@linkplain #isDone() done}. Its chain is always direct (one
 * descriptor a buffer); its memory lives until the driver closes.
 *
 * <p>The caller writes what the device reads into {@link #buffer} before submitting, and reads
 * what the device wrote after {@link #await}.
 */
public final class FixedRequest {

    final int queue;
    final long[] iovas;
    final int[] lengths;
    final int readable;
    final int writable;
    private final MemorySegment[] buffers;
    private volatile boolean inFlight;
    private volatile boolean done;
    private volatile boolean abandoned;
    private volatile int usedLength;
    private volatile Thread waiter;

    FixedRequest(int queue, long[] iovas, int[] lengths, MemorySegment[] buffers, int readable) {
        this.queue = queue;
        this.iovas = iovas;
        this.lengths = lengths;
        this.buffers = buffers;
        this.readable = readable;
        this.writable = iovas.length - readable;
    }

    /** The queue it goes to. */
    public int queue() {
        return queue;
    }

    /** Buffer {@code index} as the driver sees it: the readable ones first, then the writable ones. */
    public MemorySegment buffer(int index) {
        return buffers[index];
    }

    /** Whether the device returned it since it was last submitted. */
    public boolean isDone() {
        return done;
    }

    /** The used length the device gave, once {@linkplain #isDone() done}. */
    public int usedLength() {
        return usedLength;
    }

    /**
     * Waits, parked, until the device returns it; allocates nothing.
     *
     * @return the used length
     * @throws IllegalStateException if the ring was abandoned (a reset, the driver closed) or the
     *     device did not return it within {@link SimulatedDriver#FULL_RING_WAIT}
     */
    public int await() {
        long deadline = System.nanoTime() + SimulatedDriver.FULL_RING_WAIT.toNanos();
        // Volatile write, then volatile read; wake() writes done, then reads waiter: one of the
        // two sees the other, so no unpark is lost.
        waiter = Thread.currentThread();
        try {
            while (!done) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IllegalStateException("the device did not return the request within "
                            + SimulatedDriver.FULL_RING_WAIT);
                }
                LockSupport.parkNanos(this, left);
            }
        } finally {
            waiter = null;
        }
        if (abandoned) {
            throw new IllegalStateException("the ring was abandoned with the request in flight");
        }
        return usedLength;
    }

    /** Called by the ring, under its lock, before the chain is made available. */
    void submitted() {
        if (inFlight) {
            throw new IllegalStateException("the request is in flight");
        }
        done = false;
        abandoned = false;
        inFlight = true;
    }

    /** The chain came back with {@code usedLength} written; called under the ring's lock. */
    void returned(int usedLength) {
        this.usedLength = usedLength;
    }

    /** Tells the waiter that the chain came back; after {@link #returned}, outside the ring's lock. */
    void wake() {
        inFlight = false;
        done = true;
        Thread w = waiter;
        if (w != null) {
            LockSupport.unpark(w);
        }
    }

    /** The ring was given up with the request in flight (or could not take it). */
    void abandon() {
        usedLength = -1;
        abandoned = true;
        wake();
    }
}
