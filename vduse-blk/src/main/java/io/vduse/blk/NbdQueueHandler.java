package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.blk.QueueCounters.Counter;
import io.vduse.blk.nbd.Nbd;
import io.vduse.blk.nbd.NbdBackend;
import io.vduse.blk.nbd.NbdCommand;
import io.vduse.blk.nbd.NbdConnection;
import io.vduse.blk.nbd.NbdTransfer;
import io.vduse.core.AsyncQueueHandler;
import io.vduse.core.Request;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongFunction;

/**
 * Serves one queue from an NBD server, every request on the wire at once: the queue's thread
 * checks each request as {@link BlkQueueHandler} does and holds it as NBD commands on the queue's
 * connection, which sends what one pass over the ring started in one gathering write at the end
 * of the pass ({@link #endOfPass}); the connection's reader thread (or its timer, after the
 * timeout) answers it when the replies come, in whatever order the server sends them.
 *
 * <p>Data moves straight between the socket and the driver's buffers, as {@link ByteBuffer}
 * views over the segments they are mapped in ({@link ChainWriter#nextSlice}): no copy. Per
 * request this makes a few small objects (the views, the commands, their answer).
 *
 * <p>FUA: virtio-blk requests carry no force-unit-access bit (virtio 1.2, 5.2.6); a driver makes
 * writes durable with {@code VIRTIO_BLK_T_FLUSH}, which is {@code NBD_CMD_FLUSH}. So no command
 * is sent with {@code NBD_CMD_FLAG_FUA}, even where the server offers it. With one connection per
 * queue ({@code CAN_MULTI_CONN}) a flush on one connection covers the writes completed on every
 * one, as the protocol promises for such servers.
 */
final class NbdQueueHandler implements AsyncQueueHandler {

    private static final Logger LOG = System.getLogger(NbdQueueHandler.class.getName());
    /** The largest view over one buffer: a descriptor may be up to 4 GiB, a ByteBuffer not. */
    private static final long MAX_VIEW = 1 << 30;

    private final DiskState disk;
    private final NbdBackend backend;
    private final NbdConnection connection;
    /** For what the queue's thread answers itself: GET_ID, unknown types, the checks' statuses. */
    private final BlkQueueHandler answers;
    private final QueueCounters counters;
    private final List<ByteBuffer> views = new ArrayList<>();
    /** The ranges of the DISCARD or WRITE_ZEROES being started (queue thread only). */
    private final ZeroingRanges ranges = new ZeroingRanges();

    NbdQueueHandler(DiskState disk, NbdBackend backend, int queue, BlkQueueHandler answers, QueueCounters counters) {
        this.disk = disk;
        this.backend = backend;
        this.connection = backend.connection(queue);
        this.answers = answers;
        this.counters = counters;
    }

    @Override
    public void start(Request request) {
        DescriptorChain chain = request.chain();
        ChainReader in = chain.reader();
        ChainWriter out = chain.writer();
        if (out.remaining() < 1 || in.remaining() < VirtioBlk.OUT_HDR_SIZE) {
            answers.failed(chain, null); // no room for a status (refused), or IOERR for a short header
            request.complete();
            return;
        }
        int type = in.readIntLe();
        in.skip(VirtioBlk.OUT_HDR_SECTOR - VirtioBlk.OUT_HDR_IOPRIO);
        long sector = in.readLongLe();
        switch (type) {
            case VirtioBlk.T_IN -> transfer(request, sector, false);
            case VirtioBlk.T_OUT -> transfer(request, sector, true);
            case VirtioBlk.T_FLUSH -> flush(request);
            case VirtioBlk.T_DISCARD -> zeroing(request, false);
            case VirtioBlk.T_WRITE_ZEROES -> zeroing(request, true);
            default -> {
                // GET_ID and unknown types need no server: answered here and now.
                try {
                    answers.serve(chain, type, sector);
                } catch (java.io.IOException e) {
                    answers.failed(chain, e);
                }
                request.complete();
            }
        }
    }

    /** Sends what this pass started in one go: a system call per pass, not per request. */
    @Override
    public boolean endOfPass() {
        connection.sendHeld();
        return false;
    }

    @Override
    public void failed(Request request, Exception cause) {
        answers.failed(request.chain(), cause);
    }

    /** A read ({@code write} false) or a write of the chain's data at {@code sector}. */
    private void transfer(Request request, long sector, boolean write) {
        ChainReader in = request.chain().reader();
        ChainWriter out = request.chain().writer();
        long length = write ? in.remaining() : out.remaining() - 1;
        if (write && disk.readOnly() || !disk.rangeOk(sector, length)) {
            answerNow(request, VirtioBlk.S_IOERR);
            return;
        }
        int type = write ? VirtioBlk.T_OUT : VirtioBlk.T_IN;
        if (length == 0) {
            counters.increment(write ? Counter.WRITES : Counter.READS);
            answerNow(request, VirtioBlk.S_OK);
            return;
        }
        ByteBuffer[] data = write ? views(in::nextSlice, length) : views(out::nextSlice, length);
        NbdTransfer.hold(connection, write ? Nbd.CMD_WRITE : Nbd.CMD_READ, 0, sector * VirtioBlk.SECTOR_SIZE,
                length, data, new Answer(request, type, length, 1));
    }

    private void flush(Request request) {
        if (!backend.export().canFlush()) {
            // The server has no write cache to flush (it says so by not offering NBD_CMD_FLUSH).
            counters.increment(Counter.FLUSHES);
            answerNow(request, VirtioBlk.S_OK);
            return;
        }
        NbdTransfer.hold(connection, Nbd.CMD_FLUSH, 0, 0, 0, null,
                new Answer(request, VirtioBlk.T_FLUSH, 0, 1));
    }

    private void zeroing(Request request, boolean writeZeroes) {
        int status = ranges.read(request.chain().reader(), writeZeroes, disk);
        if (status != VirtioBlk.S_OK) {
            answerNow(request, status);
            return;
        }
        int count = ranges.count();
        boolean native_ = writeZeroes ? backend.export().canWriteZeroes() : backend.export().canTrim();
        ByteBuffer zeros = backend.zeros();
        int transfers = 0;
        for (int i = 0; i < count; i++) {
            long n = ranges.length(i);
            if (n > 0 && (native_ || writeZeroes)) {
                transfers += native_ ? 1 : (int) ((n + zeros.capacity() - 1) / zeros.capacity());
            }
        }
        int type = writeZeroes ? VirtioBlk.T_WRITE_ZEROES : VirtioBlk.T_DISCARD;
        if (transfers == 0) {
            // Nothing to send: empty ranges, or a discard to a server without trim (a discard is advice).
            counters.increment(writeZeroes ? Counter.WRITE_ZEROES : Counter.DISCARDS);
            answerNow(request, VirtioBlk.S_OK);
            return;
        }
        Answer answer = new Answer(request, type, 0, transfers);
        for (int i = 0; i < count; i++) {
            long offset = ranges.offset(i);
            long n = ranges.length(i);
            if (n == 0) {
                continue;
            }
            if (native_) {
                int command = writeZeroes ? Nbd.CMD_WRITE_ZEROES : Nbd.CMD_TRIM;
                int flags = writeZeroes && !ranges.unmap(i) ? Nbd.CMD_FLAG_NO_HOLE : 0;
                NbdTransfer.hold(connection, command, flags, offset, n, null, answer);
            } else if (writeZeroes) {
                // No NBD_CMD_WRITE_ZEROES: the zeros are written, from one buffer of them.
                for (long done = 0; done < n; done += zeros.capacity()) {
                    int part = (int) Math.min(zeros.capacity(), n - done);
                    NbdTransfer.hold(connection, Nbd.CMD_WRITE, 0, offset + done, part,
                            new ByteBuffer[] {zeros.slice(0, part)}, answer);
                }
            }
        }
    }

    /**
     * The chain's next {@code length} bytes (writable or readable, as {@code next} takes them), as
     * views over the driver's memory.
     */
    private ByteBuffer[] views(LongFunction<MemorySegment> next, long length) {
        views.clear();
        for (long done = 0; done < length; ) {
            MemorySegment slice = next.apply(Math.min(MAX_VIEW, length - done));
            views.add(slice.asByteBuffer());
            done += slice.byteSize();
        }
        return views.toArray(ByteBuffer[]::new);
    }

    private void answerNow(Request request, int status) {
        answers.answer(request.chain().writer(), status);
        request.complete();
    }

    /**
     * The answer of one request, once all its transfers are: the status byte and the counters.
     */
    private final class Answer implements NbdTransfer.Done {
        private final Request request;
        private final int type;
        private final long length;
        private final AtomicInteger remaining;
        private final AtomicInteger firstError = new AtomicInteger();

        Answer(Request request, int type, long length, int transfers) {
            this.request = request;
            this.type = type;
            this.length = length;
            this.remaining = new AtomicInteger(transfers);
        }

        @Override
        public void done(int error) {
            if (error != 0) {
                firstError.compareAndSet(0, error);
            }
            // The last transfer answers; the decrement orders the others' data before it.
            if (remaining.decrementAndGet() != 0) {
                return;
            }
            int e = firstError.get();
            ChainWriter out = request.chain().writer();
            int status;
            if (e == 0) {
                counters.served(type, length);
                status = VirtioBlk.S_OK;
            } else {
                // ENOTSUP: the server cannot do this kind of request at all; anything else is an I/O error.
                status = e == Nbd.ENOTSUP ? VirtioBlk.S_UNSUPP : VirtioBlk.S_IOERR;
                LOG.log(Level.DEBUG, "nbd {0}: type {1} failed: {2}", backend.uri().server(), type,
                        e == NbdCommand.TIMED_OUT ? "timed out" : Nbd.errorName(e));
            }
            answers.answer(out, status);
            request.complete();
        }
    }
}
