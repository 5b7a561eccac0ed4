package io.vduse.api.virtio;

import static io.vduse.api.Layouts.LE32;
import static io.vduse.api.Layouts.LE64;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * The virtio block device (virtio 1.2, 5.2): feature bits, request types, status codes and the
 * request layouts. The config space is {@link VirtioBlkConfig}.
 *
 * <p>A request is a chain: the {@link #OUT_HDR} header (device-readable), then data (readable for
 * OUT, writable for IN and GET_ID; for DISCARD and WRITE_ZEROES an array of
 * {@link #DISCARD_WRITE_ZEROES} segments, readable), then one writable status byte.
 */
public final class VirtioBlk {

    /** Feature: {@code size_max} holds the largest segment size. */
    public static final int F_SIZE_MAX = 1;
    /** Feature: {@code seg_max} holds the most segments per request. */
    public static final int F_SEG_MAX = 2;
    /** Feature: legacy disk geometry in {@code geometry}. */
    public static final int F_GEOMETRY = 4;
    /** Feature: the device is read-only. */
    public static final int F_RO = 5;
    /** Feature: {@code blk_size} holds the logical block size. */
    public static final int F_BLK_SIZE = 6;
    /** Feature: cache flush command ({@code VIRTIO_BLK_F_FLUSH}, also called WCE). */
    public static final int F_FLUSH = 9;
    /** Feature: topology fields are valid. */
    public static final int F_TOPOLOGY = 10;
    /** Feature: the driver may toggle write-back caching in {@code wce}. VDUSE refuses it. */
    public static final int F_CONFIG_WCE = 11;
    /** Feature: {@code num_queues} holds the number of request queues. */
    public static final int F_MQ = 12;
    /** Feature: DISCARD command. */
    public static final int F_DISCARD = 13;
    /** Feature: WRITE_ZEROES command. */
    public static final int F_WRITE_ZEROES = 14;
    /** Feature: lifetime information. */
    public static final int F_LIFETIME = 15;
    /** Feature: SECURE_ERASE command. */
    public static final int F_SECURE_ERASE = 16;

    /** Request: read from the device ({@code VIRTIO_BLK_T_IN}). */
    public static final int T_IN = 0;
    /** Request: write to the device ({@code VIRTIO_BLK_T_OUT}). */
    public static final int T_OUT = 1;
    /** Request: flush the write cache. */
    public static final int T_FLUSH = 4;
    /** Request: the device's serial number, {@link #ID_BYTES} bytes. */
    public static final int T_GET_ID = 8;
    /** Request: lifetime information. */
    public static final int T_GET_LIFETIME = 10;
    /** Request: discard sectors. */
    public static final int T_DISCARD = 11;
    /** Request: write zeroes to sectors. */
    public static final int T_WRITE_ZEROES = 13;
    /** Request: securely erase sectors. */
    public static final int T_SECURE_ERASE = 14;

    /** Status: success. */
    public static final int S_OK = 0;
    /** Status: the device or the driver's request failed. */
    public static final int S_IOERR = 1;
    /** Status: the request is not supported. */
    public static final int S_UNSUPP = 2;

    /** Length of the GET_ID answer. */
    public static final int ID_BYTES = 20;
    /** The unit of {@code sector} and {@code capacity}, whatever the logical block size. */
    public static final int SECTOR_SIZE = 512;
    /** {@code VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP}: the device may deallocate the zeroed sectors. */
    public static final int WRITE_ZEROES_FLAG_UNMAP = 1;

    /** {@code struct virtio_blk_outhdr}: the request header. */
    public static final StructLayout OUT_HDR = MemoryLayout.structLayout(
            LE32.withName("type"),
            LE32.withName("ioprio"),
            LE64.withName("sector"))
            .withName("virtio_blk_outhdr");
    /** Size of the request header. */
    public static final long OUT_HDR_SIZE = OUT_HDR.byteSize();
    /** Offset of {@code type}. */
    public static final long OUT_HDR_TYPE = OUT_HDR.byteOffset(groupElement("type"));
    /** Offset of {@code ioprio}. */
    public static final long OUT_HDR_IOPRIO = OUT_HDR.byteOffset(groupElement("ioprio"));
    /** Offset of {@code sector}. */
    public static final long OUT_HDR_SECTOR = OUT_HDR.byteOffset(groupElement("sector"));

    /** {@code struct virtio_blk_discard_write_zeroes}: one range of a DISCARD or WRITE_ZEROES request. */
    public static final StructLayout DISCARD_WRITE_ZEROES = MemoryLayout.structLayout(
            LE64.withName("sector"),
            LE32.withName("num_sectors"),
            LE32.withName("flags"))
            .withName("virtio_blk_discard_write_zeroes");
    /** Size of a discard / write-zeroes range. */
    public static final long DWZ_SIZE = DISCARD_WRITE_ZEROES.byteSize();
    /** Offset of {@code sector}. */
    public static final long DWZ_SECTOR = DISCARD_WRITE_ZEROES.byteOffset(groupElement("sector"));
    /** Offset of {@code num_sectors}. */
    public static final long DWZ_NUM_SECTORS = DISCARD_WRITE_ZEROES.byteOffset(groupElement("num_sectors"));
    /** Offset of {@code flags}. */
    public static final long DWZ_FLAGS = DISCARD_WRITE_ZEROES.byteOffset(groupElement("flags"));

    private VirtioBlk() {}
}
