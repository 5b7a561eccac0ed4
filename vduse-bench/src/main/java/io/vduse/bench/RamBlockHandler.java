package io.vduse.bench;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.QueueHandler;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;
import java.lang.foreign.MemorySegment;

/**
 * The least a virtio-blk device does per request, over RAM: read the 16-byte header, copy the
 * data between the chain and the disk (IN, OUT), write the status byte. FLUSH succeeds; other
 * types are answered UNSUPP. Allocates nothing, so whatever a benchmark measures beyond the
 * copies is the SDK's.
 */
final class RamBlockHandler implements QueueHandler {

    private final MemorySegment disk;

    RamBlockHandler(MemorySegment disk) {
        this.disk = disk;
    }

    @Override
    public void handle(DescriptorChain chain) {
        ChainReader in = chain.reader();
        ChainWriter out = chain.writer();
        int type = in.readIntLe();
        in.readIntLe(); // reserved
        long sector = in.readLongLe();
        long dataOut = in.remaining();
        long dataIn = out.remaining() - 1;
        int status = VirtioBlk.S_OK;
        switch (type) {
            case VirtioBlk.T_IN -> {
                if (inRange(sector, dataIn)) {
                    out.write(disk, sector * VirtioBlk.SECTOR_SIZE, dataIn);
                } else {
                    out.skip(dataIn);
                    status = VirtioBlk.S_IOERR;
                }
            }
            case VirtioBlk.T_OUT -> {
                if (inRange(sector, dataOut)) {
                    in.read(disk, sector * VirtioBlk.SECTOR_SIZE, dataOut);
                } else {
                    status = VirtioBlk.S_IOERR;
                }
            }
            case VirtioBlk.T_FLUSH -> { }
            default -> {
                out.skip(dataIn);
                status = VirtioBlk.S_UNSUPP;
            }
        }
        out.writeByte((byte) status);
    }

    private boolean inRange(long sector, long length) {
        return sector >= 0 && length % VirtioBlk.SECTOR_SIZE == 0
                && sector <= disk.byteSize() / VirtioBlk.SECTOR_SIZE
                && length <= disk.byteSize() - sector * VirtioBlk.SECTOR_SIZE;
    }

    @Override
    public void failed(DescriptorChain chain, Exception cause) {
        ChainWriter out = chain.writer();
        if (out.remaining() >= 1) {
            out.skip(out.remaining() - 1);
            out.writeByte((byte) VirtioBlk.S_IOERR);
        }
    }
}
