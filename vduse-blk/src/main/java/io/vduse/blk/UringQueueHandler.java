package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.AsyncQueueHandler;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.QueueContext;
import io.vduse.core.QueueStop;
import io.vduse.core.Request;
import io.vduse.core.uring.IoUring;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.IoVectors;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;

/**
 * Serves one queue's requests through an io_uring of its own ({@code --aio io_uring}): every
 * request the driver made available is in flight at once, the requests of one pass over the
 * virtqueue go to the kernel in one {@code io_uring_enter}, and their completions are taken on
 * the queue's thread, which waits on the ring's descriptor beside its kick
 * ({@link QueueContext#watchReadable}). No thread of its own, no lock, no allocation per request.
 *
 * <p>Reads and writes go straight between the file and the driver's buffers ({@code READV},
 * {@code WRITEV} over the chain's pieces), flushes are {@code FSYNC} with
 * {@code IORING_FSYNC_DATASYNC}, and the ranges of DISCARD and WRITE_ZEROES are
 * {@code FALLOCATE}s, range after range, each climbing the same {@link ZeroingStep} ladder as the
 * synchronous path. Each request has at most one operation in flight, so the ring,
 * sized to the virtqueue, never runs out of entries: a request in more pieces than
 * {@link #PIECES_PER_OPERATION} moves in consecutive operations, and a short transfer is
 * resubmitted for the rest. What the ring does not do is served here on the queue's thread by a
 * {@link BlkQueueHandler}: GET_ID (a copy of the serial), malformed requests, data in pieces that
 * I/O vectors cannot carry (off the {@code O_DIRECT} alignment), which is copied through its
 * scratch buffer, and zeros written where no {@code fallocate} zeroes (rare).
 *
 * <p>A ring is set up when the queue starts and closed when it stops. Where it cannot be set up
 * (the kernel is short of memory, say) the run is served synchronously, saying so once.
 */
final class UringQueueHandler implements AsyncQueueHandler {

    private static final Logger LOG = System.getLogger(UringQueueHandler.class.getName());
    /** Pieces of a request one operation moves; a request in more moves in several, one after another. */
    static final int PIECES_PER_OPERATION = 64;
    /** How long a stopped queue waits for operations still in the kernel before closing the ring. */
    private static final long DRAIN_NANOS = 5_000_000_000L;

    /** One request in flight through the ring: its slot index is the operations' user data. */
    private static final class Slot {
        final int index;
        final IoVectors vectors;
        Request request;
        int type;
        /** Bytes of the request's data in all. */
        long length;
        /** Where the current operation reads or writes. */
        long offset;
        /** Bytes of the request not yet moved, the current operation's included. */
        long remaining;
        /** Bytes of the current operation not yet moved. */
        long batch;
        /** DISCARD and WRITE_ZEROES: the request's ranges, the one being applied, and its step. */
        final ZeroingRanges ranges = new ZeroingRanges();
        int range;
        ZeroingStep step;

        Slot(int index, long alignment) {
            this.index = index;
            this.vectors = new IoVectors(PIECES_PER_OPERATION, alignment);
        }
    }

    private final String name;
    private final DiskState disk;
    private final FileBackend backend;
    private final int fd;
    private final BlkQueueHandler inline;
    private final QueueCounters counters;
    private final Slot[] slots;
    private final int[] freeSlots;
    private int freeCount;
    private int busy;
    /** Made once: a method reference per reap would allocate. */
    private final IoUring.CompletionSink sink = this::completed;
    /** The sink of a stopped queue's leftover completions, which nobody is answered for. */
    private final IoUring.CompletionSink forgetting = this::forget;
    /** The run's ring; null between runs and where none could be set up (queue thread only). */
    private IoUring ring;
    private boolean saidNoRing;
    /** io_uring_enter calls that submitted, and the most requests held at once: for tests and tuning. */
    private volatile long submissions;
    private volatile int mostInFlight;

    /**
     * @param name the queue thread's name, for messages
     * @param queueSize the largest ring the driver may choose: the most requests in flight
     * @param inline serves, on the queue's thread, what the ring does not
     */
    UringQueueHandler(String name, DiskState disk, FileBackend backend, BlkQueueHandler inline,
            QueueCounters counters, int queueSize) {
        this.name = name;
        this.disk = disk;
        this.backend = backend;
        this.fd = backend.fd();
        this.inline = inline;
        this.counters = counters;
        this.slots = new Slot[queueSize];
        this.freeSlots = new int[queueSize];
        for (int i = 0; i < queueSize; i++) {
            slots[i] = new Slot(i, backend.vectorAlignment());
        }
        resetSlots();
    }

    /** How many times requests were handed to the kernel ({@code io_uring_enter} calls that submitted). */
    long submissions() {
        return submissions;
    }

    /** The most requests this queue held in its ring at once. */
    int mostInFlight() {
        return mostInFlight;
    }

    // ---- the run ----

    @Override
    public void queueStarted(QueueContext queue) {
        resetSlots();
        try {
            // At least the ring's size of entries: one operation per request in flight at most.
            ring = IoUring.open(Math.max(queue.size(), 1));
            // The thread waits on the ring itself, readable while completions wait to be reaped.
            // A registered eventfd would be signalled for every completion, those the kernel
            // posts while this thread is in io_uring_enter and reaps right after too: a wake-up
            // and a read for nothing, each pass.
            queue.watchReadable(ring.fd());
        } catch (ErrnoException | RuntimeException e) {
            if (ring != null) {
                ring.close();
                ring = null;
            }
            if (!saidNoRing) {
                saidNoRing = true;
                LOG.log(Level.WARNING, "{0}: no io_uring for this queue ({1}): its requests are served one at a time "
                        + "on its thread", name, e.getMessage());
            }
        }
    }

    @Override
    public void queueStopped(QueueContext queue, QueueStop reason) {
        if (ring == null) {
            return;
        }
        // Requests given up on at a stop may still have an operation in the kernel, which writes
        // into the driver's memory until it completes: let them end before the ring goes.
        long deadline = System.nanoTime() + DRAIN_NANOS;
        while (busy > 0 && System.nanoTime() < deadline) {
            if (ring.reap(forgetting) == 0) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        if (busy > 0) {
            LOG.log(Level.WARNING, "{0}: {1} operation(s) still in the kernel {2} ms after the queue stopped; "
                    + "closing the ring cancels them", name, busy, DRAIN_NANOS / 1_000_000);
        }
        ring.close();
        ring = null;
        resetSlots();
    }

    private void forget(long userData, int result) {
        Slot slot = slots[(int) userData];
        if (slot.request != null) {
            release(slot);
        }
    }

    private void resetSlots() {
        for (int i = 0; i < slots.length; i++) {
            slots[i].request = null;
            freeSlots[i] = slots.length - 1 - i;
        }
        freeCount = slots.length;
        busy = 0;
    }

    // ---- starting requests ----

    @Override
    public void start(Request request) throws IOException {
        DescriptorChain chain = request.chain();
        ChainReader in = chain.reader();
        ChainWriter out = chain.writer();
        if (ring == null || out.remaining() < 1 || in.remaining() < VirtioBlk.OUT_HDR_SIZE) {
            // No ring this run, or malformed: the synchronous handler answers (or refuses) it.
            serveInline(request, false, 0, 0);
            return;
        }
        int type = in.readIntLe();
        in.skip(VirtioBlk.OUT_HDR_SECTOR - VirtioBlk.OUT_HDR_IOPRIO); // ioprio: no priorities here
        long sector = in.readLongLe();
        switch (type) {
            case VirtioBlk.T_IN -> {
                long length = out.remaining() - 1;
                if (!disk.rangeOk(sector, length)) {
                    answerNow(request, VirtioBlk.S_IOERR);
                } else {
                    begin(request, type, sector, length);
                }
            }
            case VirtioBlk.T_OUT -> {
                long length = in.remaining();
                if (disk.readOnly() || !disk.rangeOk(sector, length)) {
                    answerNow(request, VirtioBlk.S_IOERR);
                } else {
                    begin(request, type, sector, length);
                }
            }
            case VirtioBlk.T_FLUSH -> {
                Slot slot = take(request, type);
                prepare(slot);
            }
            case VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES -> beginZeroing(request, type, in);
            default -> serveInline(request, true, type, sector);
        }
    }

    /**
     * Serves the request with the synchronous handler, on this thread, and completes it: whole,
     * or after the header this handler read ({@code headerRead}, with its type and sector). A
     * backend failure is answered IOERR, as the SDK would.
     */
    private void serveInline(Request request, boolean headerRead, int type, long sector) {
        DescriptorChain chain = request.chain();
        try {
            if (headerRead) {
                inline.serve(chain, type, sector);
            } else {
                inline.handle(chain);
            }
        } catch (IOException e) {
            inline.failed(chain, e);
        }
        request.complete();
    }

    /** The SDK's answer when {@link #start} threw: IOERR, as the synchronous handler answers it. */
    @Override
    public void failed(Request request, Exception cause) {
        inline.failed(request.chain(), cause);
    }

    private void answerNow(Request request, int status) {
        inline.answer(request.chain().writer(), status);
        request.complete();
    }

    private void begin(Request request, int type, long sector, long length) {
        Slot slot = take(request, type);
        slot.length = length;
        slot.offset = sector * VirtioBlk.SECTOR_SIZE;
        slot.remaining = length;
        try {
            nextOperation(slot);
        } catch (RuntimeException e) {
            // A chain that cannot be described (memory the driver never mapped): the SDK answers
            // the request through failed(); the slot must not stay taken by it.
            if (slot.request == request) {
                release(slot);
            }
            throw e;
        }
    }

    /** DISCARD and WRITE_ZEROES: the ranges are read and checked as a whole, then applied one by one. */
    private void beginZeroing(Request request, int type, ChainReader in) {
        Slot slot = take(request, type);
        int status;
        try {
            status = slot.ranges.read(in, type == VirtioBlk.T_WRITE_ZEROES, disk);
        } catch (RuntimeException e) {
            release(slot); // ranges in memory the driver never mapped: the SDK answers through failed()
            throw e;
        }
        if (status != VirtioBlk.S_OK) {
            release(slot);
            answerNow(request, status);
            return;
        }
        slot.range = -1;
        nextRange(slot);
    }

    /** Starts the slot's next non-empty range at its first step, or finishes the request after the last. */
    private void nextRange(Slot slot) {
        ZeroingRanges ranges = slot.ranges;
        do {
            if (++slot.range == ranges.count()) {
                finish(slot, VirtioBlk.S_OK);
                return;
            }
        } while (ranges.length(slot.range) == 0);
        slot.step = ZeroingStep.first(slot.type == VirtioBlk.T_WRITE_ZEROES, ranges.unmap(slot.range));
        applyStep(slot);
    }

    /** Prepares the current range's fallocate, or writes its zeros where none zeroes, or moves on. */
    private void applyStep(Slot slot) {
        if (slot.step.isCall()) {
            prepare(slot);
            return;
        }
        if (slot.step == ZeroingStep.WRITE) {
            try {
                backend.writeZeros(slot.ranges.offset(slot.range), slot.ranges.length(slot.range));
            } catch (IOException e) {
                fail(slot, e.getMessage());
                return;
            }
        }
        nextRange(slot);
    }

    private Slot take(Request request, int type) {
        if (freeCount == 0) {
            // The SDK keeps at most the ring's size in flight, and every slot holds one request.
            throw new IllegalStateException(name + ": more requests in flight than the virtqueue holds");
        }
        Slot slot = slots[freeSlots[--freeCount]];
        slot.request = request;
        slot.type = type;
        if (++busy > mostInFlight) {
            mostInFlight = busy;
        }
        return slot;
    }

    private void release(Slot slot) {
        slot.request = null;
        freeSlots[freeCount++] = slot.index;
        busy--;
    }

    /** Describes the request's next batch of pieces and prepares its operation, or finishes it. */
    private void nextOperation(Slot slot) {
        if (slot.remaining == 0) {
            finish(slot, VirtioBlk.S_OK);
            return;
        }
        DescriptorChain chain = slot.request.chain();
        slot.vectors.clear();
        long n = slot.type == VirtioBlk.T_IN
                ? chain.writer().appendUpTo(slot.vectors, slot.remaining)
                : chain.reader().appendUpTo(slot.vectors, slot.remaining);
        if (n == 0) {
            // The next piece is not one a vector can carry (off the O_DIRECT alignment): the rest
            // is copied on this thread. Rare, and correct; a driver that aligns never comes here.
            try {
                if (slot.type == VirtioBlk.T_IN) {
                    inline.copyIn(chain.writer(), slot.offset, slot.remaining);
                } else {
                    inline.copyOut(chain.reader(), slot.offset, slot.remaining);
                }
                slot.remaining = 0;
                finish(slot, VirtioBlk.S_OK);
            } catch (IOException e) {
                fail(slot, e.getMessage());
            }
            return;
        }
        slot.batch = n;
        prepare(slot);
    }

    /** Puts the slot's current operation into the submission ring, for the end of the pass. */
    private void prepare(Slot slot) {
        if (!prepareOnce(slot)) {
            // Cannot happen while each request has one operation at most and the ring holds the
            // virtqueue's size; if the kernel has not taken what was submitted, hand it over now.
            submit();
            if (!prepareOnce(slot)) {
                fail(slot, "no room in the submission ring");
            }
        }
    }

    private boolean prepareOnce(Slot slot) {
        IoVectors v = slot.vectors;
        return switch (slot.type) {
            case VirtioBlk.T_IN -> ring.prepareReadv(fd, v.array(), v.count(), slot.offset, slot.index);
            case VirtioBlk.T_OUT -> ring.prepareWritev(fd, v.array(), v.count(), slot.offset, slot.index);
            case VirtioBlk.T_DISCARD, VirtioBlk.T_WRITE_ZEROES -> ring.prepareFallocate(fd, slot.step.mode(),
                    slot.ranges.offset(slot.range), slot.ranges.length(slot.range), slot.index);
            default -> ring.prepareFsync(fd, true, slot.index);
        };
    }

    // ---- the end of each pass: submit, take completions ----

    @Override
    public boolean endOfPass() {
        if (ring == null) {
            return false;
        }
        int completed = 0;
        int reaped;
        do {
            submit();
            // What finished while it was submitted (the page cache answers at once) is taken now,
            // not after a wake-up; its continuations are submitted in the next round.
            reaped = ring.reap(sink);
            completed += reaped;
        } while (reaped > 0 && ring.pending() > 0);
        // Entries the kernel could not take yet (EAGAIN, EBUSY): go round again rather than sleep
        // with them pending when nothing in flight would wake the thread.
        return completed > 0 || (ring.pending() > 0 && busy <= ring.pending());
    }

    private void submit() {
        try {
            // Called with nothing pending too: the ring then only moves completions the CQ had
            // no room for out of the kernel's overflow list, which keeps its descriptor readable.
            if (ring.submit() > 0) {
                submissions++; // queue thread only: a plain increment of the volatile is enough
            }
        } catch (ErrnoException e) {
            // The ring itself refuses (EBADF, EFAULT: not the requests' doing). Which requests
            // the kernel holds is then unknown, so none can be answered safely: the queue stops,
            // as for a bug, and the driver's reset ends the run.
            throw new IllegalStateException(name + ": io_uring_enter failed: " + e.getMessage(), e);
        }
    }

    private void completed(long userData, int result) {
        Slot slot = slots[(int) userData];
        if (slot.request == null) {
            return; // of a run given up on: nothing to answer
        }
        try {
            advance(slot, result);
        } catch (RuntimeException e) {
            // A driver's chain that cannot be described further (unmapped memory): this request
            // fails, the queue goes on.
            fail(slot, e.toString());
        }
    }

    private void advance(Slot slot, int result) {
        if (result == -Errno.EINTR || result == -Errno.EAGAIN) {
            prepare(slot); // the same operation again
            return;
        }
        if (slot.type == VirtioBlk.T_DISCARD || slot.type == VirtioBlk.T_WRITE_ZEROES) {
            int errno = result < 0 ? -result : 0;
            ZeroingStep next = slot.step.next(errno);
            if (next == null) {
                fail(slot, "fallocate: " + Errno.name(errno));
                return;
            }
            slot.step = next;
            applyStep(slot);
            return;
        }
        if (result < 0) {
            fail(slot, Errno.name(-result));
            return;
        }
        if (slot.type == VirtioBlk.T_FLUSH) {
            finish(slot, VirtioBlk.S_OK);
            return;
        }
        if (result == 0) {
            fail(slot, slot.type == VirtioBlk.T_IN
                    ? "end of file at " + slot.offset + " (did it shrink?)" : "nothing written at " + slot.offset);
            return;
        }
        slot.offset += result;
        slot.remaining -= result;
        slot.batch -= result;
        if (slot.batch > 0) {
            // A short transfer: the rest of the same pieces, from where it stopped.
            slot.vectors.consume(result);
            prepare(slot);
            return;
        }
        nextOperation(slot);
    }

    private void fail(Slot slot, String why) {
        LOG.log(Level.DEBUG, "{0}: request on chain {1} failed: {2}", name, slot.request.chain().id(), why);
        finish(slot, VirtioBlk.S_IOERR);
    }

    private void finish(Slot slot, int status) {
        Request request = slot.request;
        if (status == VirtioBlk.S_OK) {
            counters.served(slot.type, slot.length);
        }
        release(slot);
        inline.answer(request.chain().writer(), status);
        request.complete();
    }
}
