package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioFeatures;

/**
 * What the device offers the driver: its feature bits and its config space. {@code size_max},
 * {@code seg_max} and the topology are hints the driver should respect; a request beyond them is
 * served all the same (real drivers send them). The discard and write-zeroes limits are enforced.
 * The values follow what QEMU's {@code vduse-blk} export offers, except where a limit of QEMU's
 * block layer does not apply to a file (discard and write-zeroes sizes).
 */
public final class BlkConfigSpace {

    /** {@code size_max}: the largest buffer the driver is asked to use; larger ones are served. */
    public static final int SIZE_MAX = 1 << 20;
    /** {@code max_discard_sectors} and {@code max_write_zeroes_sectors}: 2 GiB per range. */
    public static final int MAX_ZEROING_SECTORS = 1 << 22;
    /** {@code max_discard_seg} and {@code max_write_zeroes_seg}: ranges per request. */
    public static final int MAX_ZEROING_SEGMENTS = 16;

    private BlkConfigSpace() {}

    /**
     * The features offered. {@code VERSION_1} and {@code ACCESS_PLATFORM} are added by the SDK;
     * {@code CONFIG_WCE} never is (VDUSE refuses it: the config space is read-only to the driver).
     */
    public static long features(BlkOptions options) {
        long features = bits(VirtioBlk.F_SIZE_MAX, VirtioBlk.F_SEG_MAX, VirtioBlk.F_BLK_SIZE, VirtioBlk.F_TOPOLOGY,
                VirtioBlk.F_FLUSH, VirtioBlk.F_MQ, VirtioBlk.F_DISCARD, VirtioBlk.F_WRITE_ZEROES,
                VirtioFeatures.EVENT_IDX, VirtioFeatures.INDIRECT_DESC);
        if (options.packedRing()) {
            features |= VirtioFeatures.bit(VirtioFeatures.RING_PACKED);
        }
        if (options.readOnly()) {
            features |= VirtioFeatures.bit(VirtioBlk.F_RO);
        }
        return features;
    }

    private static long bits(int... numbers) {
        long features = 0;
        for (int n : numbers) {
            features |= VirtioFeatures.bit(n);
        }
        return features;
    }

    /**
     * {@code seg_max}, the most data buffers the driver is asked to use: the ring less the
     * header's and the status's. A chain with more is served; only the ring bounds a chain.
     */
    public static int segMax(BlkOptions options) {
        return options.queueSize() - 2;
    }

    /** The config space of a device of {@code capacityBytes}. */
    public static VirtioBlkConfig config(BlkOptions options, long capacityBytes) {
        int sectorsPerBlock = options.logicalBlockSize() / VirtioBlk.SECTOR_SIZE;
        return new VirtioBlkConfig(
                capacityBytes / VirtioBlk.SECTOR_SIZE,
                SIZE_MAX,
                segMax(options),
                0, 0, 0,                        // no legacy geometry
                options.logicalBlockSize(),
                0,                              // one logical block per physical block
                0,                              // aligned from the first block
                1,                              // min_io_size: one logical block
                1,                              // opt_io_size: one logical block
                0,                              // wce: not offered
                options.numQueues(),
                MAX_ZEROING_SECTORS,
                MAX_ZEROING_SEGMENTS,
                sectorsPerBlock,                // discard_sector_alignment
                MAX_ZEROING_SECTORS,
                MAX_ZEROING_SEGMENTS,
                1,                              // write_zeroes_may_unmap: holes are punched
                0, 0, 0);                       // no secure erase
    }
}
