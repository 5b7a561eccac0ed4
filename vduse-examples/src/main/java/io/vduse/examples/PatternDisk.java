package io.vduse.examples;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.QueueHandler;
import io.vduse.core.VduseDevice;
import io.vduse.core.VduseException;
import io.vduse.core.VduseKernel;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The smallest useful device: a read-only virtio-blk disk whose every 512-byte sector holds its
 * own sector number, as 64 little-endian 64-bit words. It stores nothing, so it can be as large
 * as you like, and whoever reads it can check every byte from its offset alone: a test pattern
 * for a data path (a driver, a cache, a copy tool) that says where a wrong byte came from.
 *
 * <p>VDUSE creates only block and network devices on Linux 6.12 (7.3 adds virtio-fs), so a
 * template that both kernels attach to {@code virtio_vdpa} is a block device. This handler serves
 * reads ({@code VIRTIO_BLK_T_IN}), the serial number ({@code T_GET_ID}), and answers the rest as
 * a read-only disk must: writes IOERR (the driver sees {@code VIRTIO_BLK_F_RO} and sends none),
 * other types UNSUPP; a request too short for its header makes the handler throw, and the SDK
 * then answers IOERR. One queue, so one handler, run on the queue's own thread.
 */
public final class PatternDisk implements QueueHandler {

    /** The serial number {@code T_GET_ID} answers ({@code /sys/block/vdX/serial}). */
    public static final String SERIAL = "vduse-pattern";

    private static final ValueLayout.OfLong WORD =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final long sectors;
    // One sector's worth of pattern, refilled for each sector read: the handler runs on one
    // thread only (the queue's), so it needs no lock and allocates nothing per request.
    private final MemorySegment sector = MemorySegment.ofArray(new byte[VirtioBlk.SECTOR_SIZE]);
    private final MemorySegment serial = MemorySegment.ofArray(SERIAL.getBytes(StandardCharsets.US_ASCII));

    /** A handler for a disk of {@code sectors} 512-byte sectors. */
    public PatternDisk(long sectors) {
        if (sectors <= 0) {
            throw new IllegalArgumentException("a disk needs at least one sector, not " + sectors);
        }
        this.sectors = sectors;
    }

    /**
     * Creates the device {@code name} ({@code /dev/vduse/NAME}) in {@code kernel} and starts
     * serving it; attach it with {@code vdpa dev add name NAME mgmtdev vduse}.
     */
    public static VduseDevice start(String name, long sectors, VduseKernel kernel) throws VduseException {
        PatternDisk disk = new PatternDisk(sectors);
        return VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(VirtioFeatures.bit(VirtioBlk.F_RO) | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX))
                .config(VirtioBlkConfig.ofCapacity(sectors).toBytes())
                .queues(1, 256)
                .handler(disk)
                .start();
    }

    /** The byte at {@code offset} of the disk: what every reader may check. */
    public static byte expectedByte(long offset) {
        long sectorNumber = offset / VirtioBlk.SECTOR_SIZE;
        int inWord = (int) (offset % Long.BYTES);
        return (byte) (sectorNumber >>> (8 * inWord));
    }

    @Override
    public void handle(DescriptorChain chain) {
        // A request: a 16-byte header the driver wrote (type, reserved, sector), then the data
        // buffers, then one status byte the device writes.
        ChainReader in = chain.reader();
        ChainWriter out = chain.writer();
        int type = in.readIntLe();
        in.readIntLe();
        long first = in.readLongLe();
        long dataIn = out.remaining() - 1;
        int status = switch (type) {
            case VirtioBlk.T_IN -> read(first, dataIn, out);
            case VirtioBlk.T_GET_ID -> {
                long n = Math.min(dataIn, serial.byteSize());
                out.write(serial, 0, n);
                out.skip(dataIn - n);
                yield VirtioBlk.S_OK;
            }
            case VirtioBlk.T_OUT -> {
                out.skip(dataIn);
                yield VirtioBlk.S_IOERR;
            }
            default -> {
                out.skip(dataIn);
                yield VirtioBlk.S_UNSUPP;
            }
        };
        out.writeByte((byte) status);
    }

    private int read(long first, long length, ChainWriter out) {
        boolean inRange = length % VirtioBlk.SECTOR_SIZE == 0 && first >= 0 && first <= sectors
                && length / VirtioBlk.SECTOR_SIZE <= sectors - first;
        if (!inRange) {
            out.skip(length);
            return VirtioBlk.S_IOERR;
        }
        for (long s = first; s < first + length / VirtioBlk.SECTOR_SIZE; s++) {
            for (long word = 0; word < VirtioBlk.SECTOR_SIZE; word += Long.BYTES) {
                sector.set(WORD, word, s);
            }
            out.write(sector, 0, VirtioBlk.SECTOR_SIZE);
        }
        return VirtioBlk.S_OK;
    }
}
