package io.vduse.net;

import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.AsyncQueueHandler;
import io.vduse.core.QueueContext;
import io.vduse.core.Request;
import io.vduse.net.NetCounters.Counter;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.DescriptorChain;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The transmit queue: reads each chain's header and frame, checks the header against the frame
 * and the negotiated features, and hands the frame to the backend; every chain goes back to the
 * driver at once, with nothing written. A chain the driver should not have sent is dropped and
 * counted, and the first of each kind is logged: the device serves on.
 */
final class TxQueue implements AsyncQueueHandler {

    private static final System.Logger LOG = System.getLogger(TxQueue.class.getName());

    /** {@code ETH_HLEN}: a frame has at least its Ethernet header. */
    static final int ETH_HLEN = 14;
    /** The largest frame either way: an Ethernet header, a VLAN tag and the largest IP packet (64 KiB - 1). */
    static final int MAX_FRAME = ETH_HLEN + 4 + 65535;

    private final String name;
    private final NetCounters counters;
    private final LinkState link;
    private final NetBackend backend;
    private final VnetHeader header = new VnetHeader();
    /** The frame, copied out of the driver's buffers; the queue's thread alone touches it. */
    private final MemorySegment frame;
    private final AtomicBoolean loggedMalformed = new AtomicBoolean();
    private final AtomicBoolean loggedPastEnd = new AtomicBoolean();
    private volatile long features;

    TxQueue(String name, NetCounters counters, LinkState link, NetBackend backend, Arena arena) {
        this.name = name;
        this.counters = counters;
        this.link = link;
        this.backend = backend;
        this.frame = arena.allocate(MAX_FRAME);
    }

    @Override
    public void queueStarted(QueueContext queue) {
        features = queue.negotiatedFeatures();
    }

    @Override
    public void start(Request request) {
        transmit(request.chain());
        request.complete(0);
    }

    private void transmit(DescriptorChain chain) {
        long readable = chain.readableLength();
        if (chain.writableLength() != 0 || readable < VirtioNet.HDR_SIZE + ETH_HLEN) {
            malformed("a chain of %d readable and %d writable bytes (a frame is a header of %d and at least %d readable bytes)"
                    .formatted(readable, chain.writableLength(), VirtioNet.HDR_SIZE, ETH_HLEN));
            return;
        }
        long length = readable - VirtioNet.HDR_SIZE;
        if (length > MAX_FRAME) {
            counters.increment(Counter.TX_DROPPED_TOO_BIG);
            return;
        }
        ChainReader reader = chain.reader();
        header.readFrom(reader);
        String fault = headerFault(header, features);
        if (fault != null) {
            malformed(fault);
            return;
        }
        String pastEnd = pastEnd(header, length);
        if (pastEnd != null) {
            counters.increment(Counter.TX_DROPPED_PAST_END);
            if (loggedPastEnd.compareAndSet(false, true)) {
                LOG.log(Level.WARNING, "{0}: the driver sent a frame of {1} bytes whose header claims {2}; dropped "
                        + "(counted as tx_dropped_past_end, logged once)", name, length, pastEnd);
            }
            return;
        }
        if (!link.up()) {
            counters.increment(Counter.TX_DROPPED_LINK_DOWN);
            return;
        }
        reader.read(frame, 0, length);
        if (backend.transmit(header, frame.asSlice(0, length))) {
            counters.increment(Counter.TX_FRAMES);
            counters.add(Counter.TX_BYTES, length);
        } else {
            counters.increment(Counter.TX_DROPPED_BACKEND);
        }
    }

    /** What in {@code header} the negotiated features forbid, or null. */
    static String headerFault(VnetHeader header, long features) {
        if (header.needsChecksum() && !VirtioFeatures.has(features, VirtioNet.F_CSUM)) {
            return "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
        }
        int kind = header.gsoKind();
        if (kind == VirtioNet.GSO_NONE) {
            return null;
        }
        if ((header.gsoType() & VirtioNet.GSO_ECN) != 0 && !VirtioFeatures.has(features, VirtioNet.F_HOST_ECN)) {
            return "GSO_ECN without VIRTIO_NET_F_HOST_ECN";
        }
        if (kind == VirtioNet.GSO_TCPV4 && !VirtioFeatures.has(features, VirtioNet.F_HOST_TSO4)
                || kind == VirtioNet.GSO_TCPV6 && !VirtioFeatures.has(features, VirtioNet.F_HOST_TSO6)
                || kind != VirtioNet.GSO_TCPV4 && kind != VirtioNet.GSO_TCPV6) {
            return "gso_type " + header.gsoType() + ", which was not negotiated";
        }
        if (!header.needsChecksum()) {
            return "a segmentation offload without NEEDS_CSUM";
        }
        if (header.gsoSize() == 0) {
            return "a segmentation offload with gso_size 0";
        }
        return null;
    }

    /** Which length in {@code header} lies past a frame of {@code length} bytes, or null. */
    static String pastEnd(VnetHeader header, long length) {
        if (header.needsChecksum() && header.csumStart() + header.csumOffset() + 2L > length) {
            return "its checksum at %d + %d".formatted(header.csumStart(), header.csumOffset());
        }
        if (header.gsoKind() != VirtioNet.GSO_NONE && header.hdrLen() > length) {
            return "hdr_len " + header.hdrLen();
        }
        return null;
    }

    private void malformed(String what) {
        counters.increment(Counter.TX_DROPPED_MALFORMED);
        if (loggedMalformed.compareAndSet(false, true)) {
            LOG.log(Level.WARNING, "{0}: the driver sent {1}; dropped (counted as tx_dropped_malformed, logged once)",
                    name, what);
        }
    }
}
