package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.virtqueue.ChainReader;

/**
 * The ranges of one DISCARD or WRITE_ZEROES request (virtio 1.2, 5.2.6.2), read from the driver
 * and checked as a whole before any of them is applied, so that a bad range fails the request
 * with nothing changed. Made once per queue (or per request slot) and read into again and again:
 * no allocation per request.
 */
final class ZeroingRanges {

    private final long[] offsets = new long[BlkConfigSpace.MAX_ZEROING_SEGMENTS];
    private final long[] lengths = new long[BlkConfigSpace.MAX_ZEROING_SEGMENTS];
    private final boolean[] unmap = new boolean[BlkConfigSpace.MAX_ZEROING_SEGMENTS];
    private int count;

    /**
     * Reads the request's ranges (the rest of {@code in}, after the header) and checks them.
     *
     * @param writeZeroes WRITE_ZEROES, whose ranges may carry the unmap flag; DISCARD's carry none
     * @return {@code S_OK} when every range may be applied; {@code S_UNSUPP} for a layout or
     *     flags the device does not know (what the spec asks); {@code S_IOERR} for a range past
     *     the capacity or longer than the device advertises, or any range on a read-only disk
     */
    int read(ChainReader in, boolean writeZeroes, DiskState disk) {
        count = 0;
        long bytes = in.remaining();
        if (bytes == 0 || bytes % VirtioBlk.DWZ_SIZE != 0
                || bytes / VirtioBlk.DWZ_SIZE > BlkConfigSpace.MAX_ZEROING_SEGMENTS) {
            return VirtioBlk.S_UNSUPP;
        }
        int n = (int) (bytes / VirtioBlk.DWZ_SIZE);
        int unknownFlags = writeZeroes ? ~VirtioBlk.WRITE_ZEROES_FLAG_UNMAP : ~0;
        boolean rangesOk = true;
        for (int i = 0; i < n; i++) {
            long sector = in.readLongLe();
            long sectors = Integer.toUnsignedLong(in.readIntLe());
            int flags = in.readIntLe();
            if ((flags & unknownFlags) != 0) {
                return VirtioBlk.S_UNSUPP;
            }
            rangesOk &= sectors <= BlkConfigSpace.MAX_ZEROING_SECTORS
                    && disk.rangeOk(sector, sectors * VirtioBlk.SECTOR_SIZE);
            offsets[i] = sector * VirtioBlk.SECTOR_SIZE;
            lengths[i] = sectors * VirtioBlk.SECTOR_SIZE;
            unmap[i] = (flags & VirtioBlk.WRITE_ZEROES_FLAG_UNMAP) != 0;
        }
        if (!rangesOk || disk.readOnly()) {
            return VirtioBlk.S_IOERR;
        }
        count = n;
        return VirtioBlk.S_OK;
    }

    /** How many ranges the last successful {@link #read} took (0 after a refused one). */
    int count() {
        return count;
    }

    /** Where range {@code i} starts, in bytes. */
    long offset(int i) {
        return offsets[i];
    }

    /** How long range {@code i} is, in bytes; may be 0, which changes nothing. */
    long length(int i) {
        return lengths[i];
    }

    /** Whether range {@code i} of a WRITE_ZEROES may be deallocated (the driver's unmap flag). */
    boolean unmap(int i) {
        return unmap[i];
    }
}
