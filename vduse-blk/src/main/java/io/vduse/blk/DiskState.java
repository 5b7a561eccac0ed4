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
    private volatile long capacityBytes;

    DiskState(BlkOptions options, long capacityBytes) {
        this.logicalBlockSize = options.logicalBlockSize();
        this.readOnly = options.readOnly();
        // GET_ID: the serial, NUL-padded to 20 bytes (no NUL when it fills them, as the spec allows).
        this.serial = new byte[VirtioBlk.ID_BYTES];
        byte[] ascii = options.serial().getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(ascii, 0, serial, 0, ascii.length);
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

    /**
     * Whether {@code length} bytes at 512-byte sector {@code sector} are a valid range: starting
     * and ending on logical block boundaries, inside the capacity. Any length is checked without
     * overflow (the sector is compared before it is turned into bytes); this, not the advertised
     * {@code size_max} and {@code seg_max}, is what bounds a transfer.
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
