package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import java.nio.charset.StandardCharsets;

/**
 * What every queue's handler checks requests against: the capacity (which a resize changes while
 * the queues run), the logical block size, whether writes are allowed, and the serial.
 */
final class DiskState {

    private final int logicalBlockSize;
    private final boolean readOnly;
    private final byte[] serial;
    private final long maxBuffer;
    private final long maxTransfer;
    private volatile long capacityBytes;

    DiskState(BlkOptions options, long capacityBytes) {
        this.logicalBlockSize = options.logicalBlockSize();
        this.readOnly = options.readOnly();
        // GET_ID: the serial, NUL-padded to 20 bytes (no NUL when it fills them, as the spec allows).
        this.serial = new byte[VirtioBlk.ID_BYTES];
        byte[] ascii = options.serial().getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(ascii, 0, serial, 0, ascii.length);
        // A buffer may carry the header or the status next to a full segment of data.
        this.maxBuffer = BlkConfigSpace.SIZE_MAX + VirtioBlk.OUT_HDR_SIZE;
        this.maxTransfer = (long) BlkConfigSpace.segMax(options) * BlkConfigSpace.SIZE_MAX;
        setCapacity(capacityBytes);
    }

    /** The capacity, whole logical blocks only. */
    long capacityBytes() {
        return capacityBytes;
    }

    /** Sets the capacity, rounded down to whole logical blocks; returns what was set. */
    long setCapacity(long bytes) {
        long rounded = bytes - bytes % logicalBlockSize;
        capacityBytes = rounded;
        return rounded;
    }

    int logicalBlockSize() {
        return logicalBlockSize;
    }

    boolean readOnly() {
        return readOnly;
    }

    byte[] serial() {
        return serial;
    }

    long maxBuffer() {
        return maxBuffer;
    }

    long maxTransfer() {
        return maxTransfer;
    }

    /**
     * Whether {@code length} bytes at 512-byte sector {@code sector} are a valid range: starting
     * and ending on logical block boundaries, inside the capacity.
     */
    boolean rangeOk(long sector, long length) {
        if (sector < 0 || length < 0 || length % logicalBlockSize != 0
                || sector % (logicalBlockSize / VirtioBlk.SECTOR_SIZE) != 0) {
            return false;
        }
        long capacity = capacityBytes;
        return sector <= capacity / VirtioBlk.SECTOR_SIZE
                && length <= capacity - sector * VirtioBlk.SECTOR_SIZE;
    }
}
