package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.blk.QueueCounters.Counter;
import io.vduse.core.QueueHandler;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.IoVectors;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Answers the virtio-blk requests of one queue (virtio 1.2, 5.2.6): the header, the data, and the
 * status byte in the last writable byte of the chain.
 *
 * <p>Everything the driver sends is checked before the backend is touched: a chain without a
 * writable byte cannot be answered and is returned untouched; a short header, a range outside the
 * capacity or off the block size, or a write to a read-only device is answered {@code IOERR}; an
 * unknown type, or discard and write-zeroes ranges in a layout or with flags the device does not
 * know, {@code UNSUPP}. A backend failure is thrown to the SDK, which calls {@link #failed} to
 * answer that request {@code IOERR}.
 *
 * <p>What the device advertises for data, {@code size_max} and {@code seg_max}, is what the
 * driver is asked to keep to, not a reason to fail a request: real drivers send larger buffers
 * (libblkio through vhost-vdpa does not split by {@code size_max}), and any buffer, any number of
 * them and any length the chain holds is served. The real bounds are elsewhere: the ring bounds a
 * chain (the virtqueue refuses a longer one), a chain holds at most 2^32 - 1 bytes, and the range
 * must lie in the capacity.
 *
 * <p>No allocation per request. Where the backend takes I/O vectors, data moves straight
 * between the backend and the driver's buffers, described into {@link IoVectors} made once per
 * queue; a request in more pieces than one system call takes ({@link IoVectors#IOV_MAX}) moves in
 * consecutive vectored calls, each at its own offset. What vectors cannot carry (a backend without
 * them, heap memory, pieces off an {@code O_DIRECT} alignment) goes through a page-aligned scratch
 * buffer made once per queue, {@link #SCRATCH_SIZE} bytes at a time. Discard ranges land in
 * preallocated arrays.
 */
final class BlkQueueHandler implements QueueHandler {

    /** The size of the scratch buffer each queue copies through where vectors cannot be used. */
    static final int SCRATCH_SIZE = 1 << 20;

    private final DiskState disk;
    private final BlockBackend backend;
    private final MemorySegment scratch;
    private final MemorySegment serial;
    private final QueueCounters counters;
    /** Null when the backend takes no vectors. */
    private final IoVectors vectors;
    private final ZeroingRanges ranges = new ZeroingRanges();

    /**
     * @param scratch native memory of any size (the device gives {@link #SCRATCH_SIZE} bytes),
     *     aligned to {@link BlockBackend#BUFFER_ALIGNMENT}, used by this queue alone
     */
    BlkQueueHandler(DiskState disk, BlockBackend backend, MemorySegment scratch, QueueCounters counters) {
        this.disk = disk;
        this.backend = backend;
        this.scratch = scratch;
        // A native copy, not MemorySegment.ofArray: the serving path keeps to native segments so
        // that C1 can inline their accessors (NativeSegmentsTest).
        byte[] id = disk.serial();
        this.serial = Arena.ofAuto().allocate(Math.max(1, id.length));
        MemorySegment.copy(id, 0, serial, ValueLayout.JAVA_BYTE, 0, id.length);
        this.counters = counters;
        long alignment = backend.vectorAlignment();
        // IOV_MAX is a limit of the system call, not of a request: a request in more pieces is
        // moved in batches of this many, so the array is sized for one call whatever the ring.
        this.vectors = alignment == 0 ? null : new IoVectors(IoVectors.IOV_MAX, alignment);
    }

    @Override
    public void handle(DescriptorChain chain) throws IOException {
        ChainReader in = chain.reader();
        ChainWriter out = chain.writer();
        if (out.remaining() < 1) {
            // Nowhere to put a status: the chain goes back with nothing written.
            counters.increment(Counter.REFUSED);
            return;
        }
        if (in.remaining() < VirtioBlk.OUT_HDR_SIZE) {
            answer(out, VirtioBlk.S_IOERR);
            return;
        }
        int type = in.readIntLe();
        in.skip(VirtioBlk.OUT_HDR_SECTOR - VirtioBlk.OUT_HDR_IOPRIO); // ioprio: no priorities here
        long sector = in.readLongLe();
        serve(chain, type, sector);
    }

    /**
     * Serves and answers a request whose header was read already, for an engine that reads the
     * header itself and hands over what it does not do ({@link UringQueueHandler}).
     */
    void serve(DescriptorChain chain, int type, long sector) throws IOException {
        ChainReader in = chain.reader();
        ChainWriter out = chain.writer();
        int status = switch (type) {
            case VirtioBlk.T_IN -> read(chain, sector);
            case VirtioBlk.T_OUT -> write(chain, sector);
            case VirtioBlk.T_FLUSH -> flush();
            case VirtioBlk.T_GET_ID -> getId(out);
            case VirtioBlk.T_DISCARD -> zeroing(in, false);
            case VirtioBlk.T_WRITE_ZEROES -> zeroing(in, true);
            default -> VirtioBlk.S_UNSUPP;
        };
        answer(out, status);
    }

    /** Writes {@code status} into the chain's last writable byte, and counts a failure. */
    void answer(ChainWriter out, int status) {
        out.skip(out.remaining() - 1);
        out.writeByte((byte) status);
        if (status == VirtioBlk.S_IOERR) {
            counters.increment(Counter.IO_ERRORS);
        } else if (status == VirtioBlk.S_UNSUPP) {
            counters.increment(Counter.UNSUPPORTED);
        }
    }

    /** Answers IOERR when {@link #handle} threw: a backend failure, or a chain shorter than it said. */
    @Override
    public void failed(DescriptorChain chain, Exception cause) {
        ChainWriter out = chain.writer();
        if (out.remaining() >= 1) {
            answer(out, VirtioBlk.S_IOERR);
        } else {
            counters.increment(Counter.REFUSED);
        }
    }

    private int read(DescriptorChain chain, long sector) throws IOException {
        ChainWriter out = chain.writer();
        long length = out.remaining() - 1;
        if (!disk.rangeOk(sector, length)) {
            return VirtioBlk.S_IOERR;
        }
        long offset = sector * VirtioBlk.SECTOR_SIZE;
        long done = 0;
        long n;
        // Batches of up to IOV_MAX pieces, each read at its own offset. A batch ends on a piece
        // boundary, which with O_DIRECT is aligned, so the next batch's offset is aligned too.
        while (done < length && (n = describe(out, length - done)) > 0) {
            backend.readVectors(offset + done, vectors);
            done += n;
        }
        // What the vectors could not take, from the first piece they refused on.
        copyIn(out, offset + done, length - done);
        counters.increment(Counter.READS);
        counters.add(Counter.BYTES_READ, length);
        return VirtioBlk.S_OK;
    }

    private int write(DescriptorChain chain, long sector) throws IOException {
        ChainReader in = chain.reader();
        long length = in.remaining();
        if (disk.readOnly() || !disk.rangeOk(sector, length)) {
            return VirtioBlk.S_IOERR;
        }
        long offset = sector * VirtioBlk.SECTOR_SIZE;
        long done = 0;
        long n;
        while (done < length && (n = describe(in, length - done)) > 0) {
            backend.writeVectors(offset + done, vectors);
            done += n;
        }
        copyOut(in, offset + done, length - done);
        counters.increment(Counter.WRITES);
        counters.add(Counter.BYTES_WRITTEN, length);
        return VirtioBlk.S_OK;
    }

    /**
     * Reads {@code length} bytes at {@code offset} into the chain's writable data through the
     * scratch buffer: for pieces that I/O vectors cannot carry.
     */
    void copyIn(ChainWriter out, long offset, long length) throws IOException {
        for (long done = 0, n; done < length; done += n) {
            n = Math.min(scratch.byteSize(), length - done);
            backend.read(offset + done, scratch, n);
            out.write(scratch, 0, n);
        }
    }

    /** The counterpart of {@link #copyIn}: writes the chain's next {@code length} readable bytes to {@code offset}. */
    void copyOut(ChainReader in, long offset, long length) throws IOException {
        for (long done = 0, n; done < length; done += n) {
            n = Math.min(scratch.byteSize(), length - done);
            in.read(scratch, 0, n);
            backend.write(offset + done, scratch, n);
        }
    }

    /**
     * Describes the next batch of the chain's writable data, at most {@code length} bytes, into
     * the emptied vectors; returns its bytes, 0 when the backend takes no vectors or the next
     * piece cannot be one (heap memory, off the alignment).
     */
    private long describe(ChainWriter out, long length) {
        if (vectors == null) {
            return 0;
        }
        vectors.clear();
        return out.appendUpTo(vectors, length);
    }

    /** {@link #describe(ChainWriter, long)} for the chain's readable data. */
    private long describe(ChainReader in, long length) {
        if (vectors == null) {
            return 0;
        }
        vectors.clear();
        return in.appendUpTo(vectors, length);
    }

    private int flush() throws IOException {
        backend.flush();
        counters.increment(Counter.FLUSHES);
        return VirtioBlk.S_OK;
    }

    private int getId(ChainWriter out) {
        long n = Math.min(out.remaining() - 1, VirtioBlk.ID_BYTES);
        out.write(serial, 0, n);
        counters.increment(Counter.GET_IDS);
        return VirtioBlk.S_OK;
    }

    /**
     * DISCARD and WRITE_ZEROES: every range is read and checked first, so that a bad one fails
     * the request before any range is applied.
     */
    private int zeroing(ChainReader in, boolean writeZeroes) throws IOException {
        int status = ranges.read(in, writeZeroes, disk);
        if (status != VirtioBlk.S_OK) {
            return status;
        }
        for (int i = 0; i < ranges.count(); i++) {
            if (ranges.length(i) == 0) {
                continue;
            }
            if (writeZeroes) {
                backend.writeZeroes(ranges.offset(i), ranges.length(i), ranges.unmap(i));
            } else {
                backend.discard(ranges.offset(i), ranges.length(i));
            }
        }
        counters.increment(writeZeroes ? Counter.WRITE_ZEROES : Counter.DISCARDS);
        return VirtioBlk.S_OK;
    }
}
