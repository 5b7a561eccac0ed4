package io.vduse.core;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;
import java.lang.foreign.MemorySegment;

/**
 * A minimal virtio-blk request handler over memory, for tests of the SDK (here and, through the
 * test jar, against the real kernel in vduse-it): IN, OUT, FLUSH and GET_ID, with the status byte
 * last. Out-of-range sectors are answered with IOERR.
 */
public final class RamBlockHandler implements QueueHandler {

    private final MemorySegment disk;
    private final byte[] serial;

    /** A handler serving {@code disk} (any memory: a mapped file keeps the data across processes). */
    public RamBlockHandler(MemorySegment disk, String serial) {
        this.disk = disk;
        this.serial = new byte[VirtioBlk.ID_BYTES];
        byte[] s = serial.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(s, 0, this.serial, 0, Math.min(s.length, this.serial.length));
    }

    @Override
    public void handle(DescriptorChain chain) {
        ChainReader in = chain.reader();
        ChainWriter out = chain.writer();
        int type = in.readIntLe();
        in.readIntLe();
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
            case VirtioBlk.T_GET_ID -> {
                long n = Math.min(dataIn, serial.length);
                out.write(MemorySegment.ofArray(serial), 0, n);
                out.skip(dataIn - n);
            }
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
