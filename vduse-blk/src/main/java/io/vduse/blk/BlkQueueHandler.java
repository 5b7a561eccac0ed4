package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.blk.QueueCounters.Counter;
import io.vduse.core.QueueHandler;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.IoVectors;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Answers the virtio-blk requests of one queue (virtio 1.2, 5.2.6): the header, the data, and the
 * status byte in the last writable byte of the chain.
 *
 * <p>Everything the driver sends is checked before the backend is touched: a chain without a
 * writable byte cannot be answered and is returned untouched; a short header, a range outside the
 * capacity or off the block size, an oversized buffer or transfer, or a write to a read-only
 * device is answered {@code IOERR}; an unknown type, or discard and write-zeroes ranges in a
 * layout or with flags the device does not know, {@code UNSUPP}. A backend failure is thrown to
 * the SDK, which calls {@link #failed} to answer that request {@code IOERR}.
 *
 * <p>No allocation per request. Where the backend takes I/O vectors, data moves straight
 * between the backend and the driver's buffers, described into {@link IoVectors} made once per
 * queue; otherwise (a backend without vectors, heap memory, pieces off an {@code O_DIRECT}
 * alignment, more pieces than a system call takes) it goes through a page-aligned scratch buffer
 * made once per queue, in chunks of {@link BlkConfigSpace#SIZE_MAX}. Discard ranges land in
 * preallocated arrays.
 */
final class BlkQueueHandler implements QueueHandler {

    private final DiskState disk;
    private final BlockBackend backend;
    private final MemorySegment scratch;
    private final MemorySegment serial;
    private final QueueCounters counters;
    /** Null when the backend takes no vectors. */
    private final IoVectors vectors;
    private final long[] rangeOffsets = new long[BlkConfigSpace.MAX_ZEROING_SEGMENTS];
    private final long[] rangeLengths = new long[BlkConfigSpace.MAX_ZEROING_SEGMENTS];
    private final boolean[] rangeUnmap = new boolean[BlkConfigSpace.MAX_ZEROING_SEGMENTS];

    /**
     * @param scratch native memory of {@link BlkConfigSpace#SIZE_MAX} bytes, aligned to
     *     {@link BlockBackend#BUFFER_ALIGNMENT}, used by this queue alone
     * @param maxSegments the most data buffers a request may have ({@code seg_max})
     */
    BlkQueueHandler(DiskState disk, BlockBackend backend, MemorySegment scratch, QueueCounters counters,
            int maxSegments) {
        this.disk = disk;
        this.backend = backend;
        this.scratch = scratch;
        this.serial = MemorySegment.ofArray(disk.serial());
        this.counters = counters;
        long alignment = backend.vectorAlignment();
        this.vectors = alignment == 0 ? null
                : new IoVectors(Math.clamp(maxSegments, 1, IoVectors.IOV_MAX), alignment);
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
    private void answer(ChainWriter out, int status) {
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
        if (!transferOk(chain, sector, length)) {
            return VirtioBlk.S_IOERR;
        }
        long offset = sector * VirtioBlk.SECTOR_SIZE;
        if (vectorsTake(length) && out.appendTo(vectors, length)) {
            backend.readVectors(offset, vectors);
        } else {
            for (long done = 0; done < length; ) {
                long n = Math.min(scratch.byteSize(), length - done);
                backend.read(offset + done, scratch, n);
                out.write(scratch, 0, n);
                done += n;
            }
        }
        counters.increment(Counter.READS);
        counters.add(Counter.BYTES_READ, length);
        return VirtioBlk.S_OK;
    }

    private int write(DescriptorChain chain, long sector) throws IOException {
        ChainReader in = chain.reader();
        long length = in.remaining();
        if (disk.readOnly() || !transferOk(chain, sector, length)) {
            return VirtioBlk.S_IOERR;
        }
        long offset = sector * VirtioBlk.SECTOR_SIZE;
        if (vectorsTake(length) && in.appendTo(vectors, length)) {
            backend.writeVectors(offset, vectors);
        } else {
            for (long done = 0; done < length; ) {
                long n = Math.min(scratch.byteSize(), length - done);
                in.read(scratch, 0, n);
                backend.write(offset + done, scratch, n);
                done += n;
            }
        }
        counters.increment(Counter.WRITES);
        counters.add(Counter.BYTES_WRITTEN, length);
        return VirtioBlk.S_OK;
    }

    /** Whether to try vectors for a transfer of {@code length} bytes; empties them if so. */
    private boolean vectorsTake(long length) {
        if (vectors == null || length == 0) {
            return false;
        }
        vectors.clear();
        return true;
    }

    /** The range is valid and the chain keeps within {@code seg_max} buffers of {@code size_max}. */
    private boolean transferOk(DescriptorChain chain, long sector, long length) {
        if (!disk.rangeOk(sector, length) || length > disk.maxTransfer()) {
            return false;
        }
        for (int i = 0; i < chain.bufferCount(); i++) {
            if (chain.length(i) > disk.maxBuffer()) {
                return false;
            }
        }
        return true;
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
        long bytes = in.remaining();
        if (bytes == 0 || bytes % VirtioBlk.DWZ_SIZE != 0
                || bytes / VirtioBlk.DWZ_SIZE > BlkConfigSpace.MAX_ZEROING_SEGMENTS) {
            return VirtioBlk.S_UNSUPP;
        }
        int count = (int) (bytes / VirtioBlk.DWZ_SIZE);
        int unknownFlags = writeZeroes ? ~VirtioBlk.WRITE_ZEROES_FLAG_UNMAP : ~0;
        boolean rangesOk = true;
        for (int i = 0; i < count; i++) {
            long sector = in.readLongLe();
            long sectors = Integer.toUnsignedLong(in.readIntLe());
            int flags = in.readIntLe();
            if ((flags & unknownFlags) != 0) {
                return VirtioBlk.S_UNSUPP;
            }
            rangesOk &= sectors <= BlkConfigSpace.MAX_ZEROING_SECTORS
                    && disk.rangeOk(sector, sectors * VirtioBlk.SECTOR_SIZE);
            rangeOffsets[i] = sector * VirtioBlk.SECTOR_SIZE;
            rangeLengths[i] = sectors * VirtioBlk.SECTOR_SIZE;
            rangeUnmap[i] = (flags & VirtioBlk.WRITE_ZEROES_FLAG_UNMAP) != 0;
        }
        if (!rangesOk || disk.readOnly()) {
            return VirtioBlk.S_IOERR;
        }
        for (int i = 0; i < count; i++) {
            if (rangeLengths[i] == 0) {
                continue;
            }
            if (writeZeroes) {
                backend.writeZeroes(rangeOffsets[i], rangeLengths[i], rangeUnmap[i]);
            } else {
                backend.discard(rangeOffsets[i], rangeLengths[i]);
            }
        }
        counters.increment(writeZeroes ? Counter.WRITE_ZEROES : Counter.DISCARDS);
        return VirtioBlk.S_OK;
    }
}
