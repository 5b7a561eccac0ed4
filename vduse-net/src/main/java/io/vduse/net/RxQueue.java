package io.vduse.net;

import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.AsyncQueueHandler;
import io.vduse.core.QueueContext;
import io.vduse.core.QueueStop;
import io.vduse.core.Request;
import io.vduse.net.NetCounters.Counter;
import io.vduse.virtqueue.ChainWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The receive queue: holds the buffers the driver makes available until frames arrive, and
 * writes each arriving frame, behind its header, into one buffer (or, with
 * {@code VIRTIO_NET_F_MRG_RXBUF}, as many as it takes, {@code num_buffers} saying how many).
 *
 * <p>Buffers are taken on the queue's thread; frames arrive on the backend's thread. One lock
 * guards the held buffers, so that each is completed once, the buffers of one frame reach the
 * used ring together and in order, and none is written after its queue stopped. It is
 * uncontended but for the moments the queue's thread adds buffers.
 */
final class RxQueue implements AsyncQueueHandler, FrameSink {

    private final NetCounters counters;
    private final NetBackend backend;
    private final LinkState link;
    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Request> held = new ArrayDeque<>();
    private final VnetHeader out = new VnetHeader();
    /** A copy of a frame whose checksum the device completes; touched under the lock only. */
    private final MemorySegment scratch;
    // Guarded by lock.
    private boolean running;
    private boolean mergeable;
    private long features;

    RxQueue(NetCounters counters, LinkState link, Arena arena, NetBackend backend) {
        this.backend = backend;
        this.counters = counters;
        this.link = link;
        this.scratch = arena.allocate(TxQueue.MAX_FRAME);
    }

    @Override
    public void queueStarted(QueueContext queue) {
        lock.lock();
        try {
            features = queue.negotiatedFeatures();
            mergeable = VirtioFeatures.has(features, VirtioNet.F_MRG_RXBUF);
            running = true;
        } finally {
            lock.unlock();
        }
        backend.driverStarted(queue.negotiatedFeatures());
    }

    @Override
    public void start(Request request) {
        if (request.chain().readableLength() != 0 || request.chain().writableLength() < VirtioNet.HDR_SIZE) {
            counters.increment(Counter.RX_BAD_BUFFERS);
            request.complete(0);
            return;
        }
        lock.lock();
        try {
            // A queue pops only while it serves: a stop that was taken back serves on.
            running = true;
            held.add(request);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Gives every held buffer back, empty: they wait for frames that may never come, and the
     * stop would otherwise wait the settle timeout and cancel them. (A driver sees a used length
     * of 0, which Linux's virtio_net counts as a length error and recycles; after a reset it does
     * not look.)
     */
    @Override
    public void queueStopping(QueueContext queue, QueueStop reason) {
        lock.lock();
        try {
            running = false;
            Request request;
            while ((request = held.poll()) != null) {
                request.complete(0);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void queueStopped(QueueContext queue, QueueStop reason) {
        lock.lock();
        try {
            running = false;
            held.clear(); // completed or, past the settle timeout, cancelled by the SDK
        } finally {
            lock.unlock();
        }
    }

    /** Buffers held now. */
    int held() {
        lock.lock();
        try {
            return held.size();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean accept(VnetHeader header, MemorySegment frame) {
        long length = frame.byteSize();
        if (length > TxQueue.MAX_FRAME) {
            counters.increment(Counter.RX_DROPPED_TOO_BIG);
            return false;
        }
        if (!link.up()) {
            counters.increment(Counter.RX_DROPPED_LINK_DOWN);
            return false;
        }
        lock.lock();
        try {
            if (!running) {
                counters.increment(Counter.RX_DROPPED_NOT_READY);
                return false;
            }
            if (!offloadAccepted(header)) {
                counters.increment(Counter.RX_DROPPED_OFFLOAD);
                return false;
            }
            out.copyFrom(header);
            MemorySegment payload = frame;
            if (header.needsChecksum() && !VirtioFeatures.has(features, VirtioNet.F_GUEST_CSUM)) {
                if (header.csumStart() + header.csumOffset() + 2L > length) {
                    counters.increment(Counter.RX_DROPPED_OFFLOAD);
                    return false;
                }
                MemorySegment.copy(frame, 0, scratch, 0, length);
                payload = scratch.asSlice(0, length);
                Checksum.complete(payload, length, header.csumStart(), header.csumOffset());
                counters.increment(Counter.RX_CHECKSUMS_COMPLETED);
                out.clear();
            } else if (!VirtioFeatures.has(features, VirtioNet.F_GUEST_CSUM)) {
                out.clear(); // DATA_VALID means nothing to a driver without GUEST_CSUM
            }
            boolean written = mergeable ? writeMerged(payload, length) : writeOne(payload, length);
            if (written) {
                counters.increment(Counter.RX_FRAMES);
                counters.add(Counter.RX_BYTES, length);
            }
            return written;
        } finally {
            lock.unlock();
        }
    }

    /** A segmentation offload reaches only a driver that accepted it. */
    private boolean offloadAccepted(VnetHeader header) {
        int kind = header.gsoKind();
        if (kind == VirtioNet.GSO_NONE) {
            return true;
        }
        if ((header.gsoType() & VirtioNet.GSO_ECN) != 0 && !VirtioFeatures.has(features, VirtioNet.F_GUEST_ECN)) {
            return false;
        }
        return kind == VirtioNet.GSO_TCPV4 && VirtioFeatures.has(features, VirtioNet.F_GUEST_TSO4)
                || kind == VirtioNet.GSO_TCPV6 && VirtioFeatures.has(features, VirtioNet.F_GUEST_TSO6);
    }

    private boolean writeOne(MemorySegment frame, long length) {
        Request request = held.peekFirst();
        if (request == null) {
            counters.increment(Counter.RX_DROPPED_NO_BUFFER);
            return false;
        }
        if (request.chain().writableLength() < VirtioNet.HDR_SIZE + length) {
            counters.increment(Counter.RX_DROPPED_TOO_BIG); // the buffer stays for a frame that fits
            return false;
        }
        held.pollFirst();
        ChainWriter writer = request.chain().writer();
        out.writeTo(writer, 1);
        writer.write(frame, 0, length);
        request.complete(VirtioNet.HDR_SIZE + length);
        return true;
    }

    private boolean writeMerged(MemorySegment frame, long length) {
        long needed = VirtioNet.HDR_SIZE + length;
        int buffers = 0;
        long room = 0;
        for (Iterator<Request> it = held.iterator(); it.hasNext() && room < needed; ) {
            room += it.next().chain().writableLength();
            buffers++;
        }
        if (room < needed) {
            counters.increment(Counter.RX_DROPPED_NO_BUFFER);
            return false;
        }
        long at = 0;
        for (int i = 0; i < buffers; i++) {
            Request request = held.pollFirst();
            ChainWriter writer = request.chain().writer();
            if (i == 0) {
                out.writeTo(writer, buffers);
            }
            long piece = Math.min(writer.remaining(), length - at);
            writer.write(frame, at, piece);
            at += piece;
            request.complete(writer.bytesWritten());
        }
        return true;
    }
}
