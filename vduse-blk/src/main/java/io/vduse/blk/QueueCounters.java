package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What one queue's handler has done, by request type. Written by the thread serving each
 * request (the queue's own, or one of its I/O threads with {@code --aio threads}), read by anyone.
 */
public final class QueueCounters {

    /** A counted quantity. */
    public enum Counter {
        /** IN requests answered OK. */
        READS,
        /** OUT requests answered OK. */
        WRITES,
        /** FLUSH requests answered OK. */
        FLUSHES,
        /** DISCARD requests answered OK. */
        DISCARDS,
        /** WRITE_ZEROES requests answered OK. */
        WRITE_ZEROES,
        /** GET_ID requests answered OK. */
        GET_IDS,
        /** Requests answered IOERR: bad sectors or sizes, a read-only device, a backend failure. */
        IO_ERRORS,
        /** Requests answered UNSUPP: unknown types, bad flags or layouts. */
        UNSUPPORTED,
        /** Chains with no room for a status byte, returned without an answer. */
        REFUSED,
        /** Bytes read from the backend for IN. */
        BYTES_READ,
        /** Bytes written to the backend for OUT. */
        BYTES_WRITTEN
    }

    private static final Counter[] ALL = Counter.values();

    private final AtomicLongArray values = new AtomicLongArray(ALL.length);

    /** Made by the device, one per queue. */
    QueueCounters() {}

    /** Adds {@code n} to {@code counter}; from any thread serving the queue. */
    void add(Counter counter, long n) {
        // An atomic add: with I/O threads, several threads count into one queue's counters.
        values.getAndAdd(counter.ordinal(), n);
    }

    /** Adds one to {@code counter}; from any thread serving the queue. */
    void increment(Counter counter) {
        add(counter, 1);
    }

    /**
     * Counts a request of {@code type} ({@code VirtioBlk.T_IN}, {@code T_OUT}, {@code T_FLUSH},
     * {@code T_DISCARD}, {@code T_WRITE_ZEROES}) answered OK, with the {@code bytes} a read or
     * write moved; for the handlers that answer a request after its I/O, on whichever thread.
     */
    void served(int type, long bytes) {
        switch (type) {
            case VirtioBlk.T_IN -> {
                increment(Counter.READS);
                add(Counter.BYTES_READ, bytes);
            }
            case VirtioBlk.T_OUT -> {
                increment(Counter.WRITES);
                add(Counter.BYTES_WRITTEN, bytes);
            }
            case VirtioBlk.T_FLUSH -> increment(Counter.FLUSHES);
            case VirtioBlk.T_DISCARD -> increment(Counter.DISCARDS);
            case VirtioBlk.T_WRITE_ZEROES -> increment(Counter.WRITE_ZEROES);
            default -> throw new IllegalArgumentException("request type " + type + " is not one a handler serves later");
        }
    }

    /** The current value of {@code counter}. */
    public long get(Counter counter) {
        return values.getAcquire(counter.ordinal());
    }

    /** Requests answered, whatever the status. */
    public long answered() {
        return get(Counter.READS) + get(Counter.WRITES) + get(Counter.FLUSHES) + get(Counter.DISCARDS)
                + get(Counter.WRITE_ZEROES) + get(Counter.GET_IDS) + get(Counter.IO_ERRORS) + get(Counter.UNSUPPORTED);
    }
}
