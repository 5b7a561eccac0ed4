package io.vduse.net;

import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.AsyncQueueHandler;
import io.vduse.core.ErrnoException;
import io.vduse.core.QueueContext;
import io.vduse.core.QueueStop;
import io.vduse.core.Request;
import io.vduse.net.NetCounters.Counter;
import io.vduse.virtqueue.ChainWriter;
import java.lang.System.Logger.Level;
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
 * <p>Buffers are taken on the queue's thread. A backend with a descriptor (a TAP) is read on
 * that thread too, at the end of each pass ({@link #endOfPass}), which waits on the descriptor
 * while it holds buffers: a frame then goes from the backend into the driver's buffers, and the
 * used ring, with no other thread on its way. A frame that finds too little room waits, copied
 * aside, until the driver gives more, and the backend is not read meanwhile. Any other backend delivers on a thread of its own. One lock
 * guards the held buffers, so that each is completed once, the buffers of one frame reach the
 * used ring together and in order, and none is written after its queue stopped. It is
 * uncontended but for the moments the queue's thread adds buffers.
 */
final class RxQueue implements AsyncQueueHandler, FrameSink {

    private static final System.Logger LOG = System.getLogger(RxQueue.class.getName());
    /** Frames read from the backend per pass, so that the ring's other work is not kept waiting. */
    static final int FRAMES_PER_PASS = 64;

    private final NetCounters counters;
    private final NetBackend backend;
    /** The backend's descriptor the queue's thread reads, or -1 for a backend that delivers. */
    private final int receiveFd;
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
    /** The room of the held buffers, bytes. */
    private long heldRoom;
    // The queue's thread only.
    private QueueContext queue;
    /** Whether the queue's thread waits on {@link #receiveFd}. */
    private boolean watching;
    /** Set when reading the backend failed: it is not read again in this run. */
    private boolean receiveFailed;
    /** A frame read from the backend that did not fit the held buffers yet, and its header. */
    private final MemorySegment waiting;
    private final VnetHeader waitingHeader = new VnetHeader();
    /** The waiting frame's length, or -1 for none. */
    private long waitingLength = -1;
    /** What {@link #endOfPass} hands the backend: delivers a frame that fits, keeps one that does not. */
    private final FrameSink deliverOrKeep = this::deliverOrKeep;

    RxQueue(NetCounters counters, LinkState link, Arena arena, NetBackend backend) {
        this.backend = backend;
        this.counters = counters;
        this.link = link;
        this.scratch = arena.allocate(TxQueue.MAX_FRAME);
        this.receiveFd = backend.receiveFd();
        this.waiting = receiveFd >= 0 ? arena.allocate(TxQueue.MAX_FRAME) : MemorySegment.NULL;
    }

    @Override
    public void queueStarted(QueueContext queue) {
        this.queue = queue;
        watching = false;
        receiveFailed = false;
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
            heldRoom += request.chain().writableLength();
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
            heldRoom = 0;
        } finally {
            lock.unlock();
        }
        dropWaiting();
        watch(false);
    }

    /** The frame that waited for room goes with the driver's session that gave no room. */
    private void dropWaiting() {
        if (waitingLength >= 0) {
            waitingLength = -1;
            counters.increment(Counter.RX_DROPPED_NOT_READY);
        }
    }

    @Override
    public void queueStopped(QueueContext queue, QueueStop reason) {
        lock.lock();
        try {
            running = false;
            held.clear(); // completed or, past the settle timeout, cancelled by the SDK
            heldRoom = 0;
        } finally {
            lock.unlock();
        }
        this.queue = null;
        dropWaiting();
        watching = false; // the run's wait on the descriptor ends with it
    }

    /**
     * Delivers the frame that waited for room, if it fits now; then reads what the backend has
     * waiting while there are buffers, up to {@link #FRAMES_PER_PASS}, and waits on its
     * descriptor only if there still are.
     */
    @Override
    public boolean endOfPass() {
        if (receiveFd < 0 || queue == null || receiveFailed) {
            return false;
        }
        boolean took = false;
        if (waitingLength >= 0) {
            if (!fits(waitingLength)) {
                watch(false); // until the driver gives more buffers: the next pass looks again
                return false;
            }
            accept(waitingHeader, waiting.asSlice(0, waitingLength));
            waitingLength = -1;
            took = true;
        }
        for (int n = 0; n < FRAMES_PER_PASS && waitingLength < 0 && holdsBuffers(); n++) {
            try {
                if (!backend.receive(deliverOrKeep)) {
                    break;
                }
            } catch (ErrnoException e) {
                receiveFailed = true;
                LOG.log(Level.ERROR, "reading {0} failed; receive queue {1} takes nothing more from it until the "
                        + "driver resets the device: {2}", backend, queue.index(), e.getMessage());
                break;
            }
            took = true;
        }
        watch(!receiveFailed && waitingLength < 0 && holdsBuffers());
        return took;
    }

    /** On the queue's thread, from the backend: delivers {@code frame} if it fits, else keeps a copy. */
    private boolean deliverOrKeep(VnetHeader header, MemorySegment frame) {
        long length = frame.byteSize();
        if (length > TxQueue.MAX_FRAME || fits(length)) {
            return accept(header, frame);
        }
        MemorySegment.copy(frame, 0, waiting, 0, length);
        waitingHeader.copyFrom(header);
        waitingLength = length;
        return true;
    }

    private boolean holdsBuffers() {
        lock.lock();
        try {
            return running && !held.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether a frame of {@code length} bytes can be written now: with mergeable buffers, whether
     * the held ones have the room, or hold the whole ring (more will not come, so one too big
     * for them is dropped and counted rather than waiting for ever); else whether one is held
     * (one too small drops the frame, counted).
     */
    private boolean fits(long length) {
        lock.lock();
        try {
            return holdsBuffers()
                    && (!mergeable || heldRoom >= VirtioNet.HDR_SIZE + length || held.size() >= queue.size());
        } finally {
            lock.unlock();
        }
    }

    private void watch(boolean on) {
        if (receiveFd >= 0 && queue != null && on != watching) {
            queue.watchReadable(on ? receiveFd : -1);
            watching = on;
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
        heldRoom -= request.chain().writableLength();
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
            heldRoom -= request.chain().writableLength();
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
