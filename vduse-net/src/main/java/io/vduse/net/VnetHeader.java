package io.vduse.net;

import io.vduse.api.virtio.VirtioNet;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;

/**
 * The offload fields of a {@code virtio_net_hdr} (see {@link VirtioNet}): what a frame's sender
 * left for the receiver to finish, a partial checksum ({@link VirtioNet#HDR_F_NEEDS_CSUM}) or a
 * segmentation offload ({@code gso_type} other than {@link VirtioNet#GSO_NONE}). A mutable
 * flyweight, reused frame after frame: a backend must copy what it keeps of it. The header's
 * {@code num_buffers} is the device's business and not here.
 */
public final class VnetHeader {

    private int flags;
    private int gsoType;
    private int hdrLen;
    private int gsoSize;
    private int csumStart;
    private int csumOffset;

    /** A header with nothing to offload. */
    public VnetHeader() {}

    /** Sets every field; each is masked to its width (8 bits for the first two, 16 for the rest). */
    public VnetHeader set(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset) {
        this.flags = flags & 0xff;
        this.gsoType = gsoType & 0xff;
        this.hdrLen = hdrLen & 0xffff;
        this.gsoSize = gsoSize & 0xffff;
        this.csumStart = csumStart & 0xffff;
        this.csumOffset = csumOffset & 0xffff;
        return this;
    }

    /** Sets this header to {@code other}'s fields. */
    public VnetHeader copyFrom(VnetHeader other) {
        return set(other.flags, other.gsoType, other.hdrLen, other.gsoSize, other.csumStart, other.csumOffset);
    }

    /** Clears every field: a frame with nothing to offload. */
    public VnetHeader clear() {
        return set(0, 0, 0, 0, 0, 0);
    }

    /** {@code flags}: {@link VirtioNet#HDR_F_NEEDS_CSUM}, {@link VirtioNet#HDR_F_DATA_VALID}. */
    public int flags() {
        return flags;
    }

    /** {@code gso_type}, with {@link VirtioNet#GSO_ECN} if set. */
    public int gsoType() {
        return gsoType;
    }

    /** {@code hdr_len}. */
    public int hdrLen() {
        return hdrLen;
    }

    /** {@code gso_size}. */
    public int gsoSize() {
        return gsoSize;
    }

    /** {@code csum_start}. */
    public int csumStart() {
        return csumStart;
    }

    /** {@code csum_offset}. */
    public int csumOffset() {
        return csumOffset;
    }

    /** Whether the frame's checksum from {@code csum_start} is partial. */
    public boolean needsChecksum() {
        return (flags & VirtioNet.HDR_F_NEEDS_CSUM) != 0;
    }

    /** The segmentation offload, without the ECN flag: {@link VirtioNet#GSO_NONE} for an ordinary frame. */
    public int gsoKind() {
        return gsoType & ~VirtioNet.GSO_ECN;
    }

    /** Reads the header's first ten bytes and skips {@code num_buffers}; the reader must have {@link VirtioNet#HDR_SIZE} bytes. */
    void readFrom(ChainReader reader) {
        int f = reader.readByte();
        int g = reader.readByte();
        int h = reader.readShortLe();
        int s = reader.readShortLe();
        int cs = reader.readShortLe();
        int co = reader.readShortLe();
        reader.skip(2);
        set(f, g, h, s, cs, co);
    }

    /** Writes the whole header, with {@code numBuffers}. */
    void writeTo(ChainWriter writer, int numBuffers) {
        writer.writeByte((byte) flags);
        writer.writeByte((byte) gsoType);
        writer.writeShortLe((short) hdrLen);
        writer.writeShortLe((short) gsoSize);
        writer.writeShortLe((short) csumStart);
        writer.writeShortLe((short) csumOffset);
        writer.writeShortLe((short) numBuffers);
    }

    @Override
    public String toString() {
        return "VnetHeader[flags " + flags + ", gso_type " + gsoType + ", hdr_len " + hdrLen + ", gso_size " + gsoSize
                + ", csum_start " + csumStart + ", csum_offset " + csumOffset + "]";
    }
}
