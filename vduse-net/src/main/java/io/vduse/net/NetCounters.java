package io.vduse.net;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What a {@link VirtioNetDevice} moved and what it dropped, and why: no frame is dropped without
 * one of these going up. Read from any thread.
 */
public final class NetCounters {

    /** One counter. */
    public enum Counter {
        /** Frames written into the driver's receive buffers. */
        RX_FRAMES,
        /** Bytes of those frames, headers of ours not counted. */
        RX_BYTES,
        /** Received frames dropped because the driver had no receive buffer (or, mergeable, not enough) made available. */
        RX_DROPPED_NO_BUFFER,
        /** Received frames dropped because they do not fit the receive buffer, or exceed the largest frame. */
        RX_DROPPED_TOO_BIG,
        /** Received frames dropped because they carry a segmentation offload the driver did not accept. */
        RX_DROPPED_OFFLOAD,
        /** Received frames dropped because the driver was not running the receive queue. */
        RX_DROPPED_NOT_READY,
        /** Received frames dropped while the link was down. */
        RX_DROPPED_LINK_DOWN,
        /** Receive chains returned unused: readable buffers, or too small for the header. */
        RX_BAD_BUFFERS,
        /** Received frames whose partial checksum the device completed, for a driver without GUEST_CSUM. */
        RX_CHECKSUMS_COMPLETED,
        /** Frames the driver transmitted and the backend took. */
        TX_FRAMES,
        /** Bytes of those frames. */
        TX_BYTES,
        /** Transmit chains dropped as malformed: writable buffers, shorter than a header and an Ethernet header, or a header the negotiated features forbid. */
        TX_DROPPED_MALFORMED,
        /** Transmit chains dropped because their header claims a length past the frame (csum_start + csum_offset, hdr_len). */
        TX_DROPPED_PAST_END,
        /** Transmit chains dropped because the frame exceeds the largest frame. */
        TX_DROPPED_TOO_BIG,
        /** Transmitted frames the backend did not take (it counted why). */
        TX_DROPPED_BACKEND,
        /** Transmitted frames dropped while the link was down. */
        TX_DROPPED_LINK_DOWN
    }

    private static final Counter[] ALL = Counter.values();

    private final AtomicLongArray values = new AtomicLongArray(ALL.length);

    NetCounters() {}

    /** The value of {@code counter}. */
    public long get(Counter counter) {
        return values.get(counter.ordinal());
    }

    /** Every counter's value now, in declaration order. */
    public Map<Counter, Long> snapshot() {
        Map<Counter, Long> snapshot = new EnumMap<>(Counter.class);
        for (Counter c : ALL) {
            snapshot.put(c, values.get(c.ordinal()));
        }
        return snapshot;
    }

    /** Every dropped frame, receive and transmit. */
    public long dropped() {
        long sum = 0;
        for (Counter c : ALL) {
            if (c.name().contains("_DROPPED_")) {
                sum += values.get(c.ordinal());
            }
        }
        return sum;
    }

    void add(Counter counter, long delta) {
        values.getAndAdd(counter.ordinal(), delta);
    }

    void increment(Counter counter) {
        values.getAndIncrement(counter.ordinal());
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder();
        for (Counter c : ALL) {
            text.append(text.isEmpty() ? "" : " ").append(c.name().toLowerCase(java.util.Locale.ROOT)).append('=')
                    .append(values.get(c.ordinal()));
        }
        return text.toString();
    }
}
