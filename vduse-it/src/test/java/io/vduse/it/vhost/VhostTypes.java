package io.vduse.it.vhost;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;

/**
 * The structs of {@code include/uapi/linux/vhost_types.h} (Linux 7.3) that the client passes, one
 * layout each with its offsets as constants; {@code VhostLayoutTest} pins every size and offset to
 * the numbers read off the header. All fields are native-endian (little-endian on x86-64).
 */
final class VhostTypes {

    private VhostTypes() {}

    /**
     * {@code struct vhost_vring_state { unsigned int index; unsigned int num; }}: 8 bytes. Also the
     * argument of SET_GROUP_ASID (index = group, num = asid) and GET_VRING_GROUP.
     */
    static final StructLayout VRING_STATE = MemoryLayout.structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("num"));
    static final long STATE_INDEX = VRING_STATE.byteOffset(groupElement("index"));
    static final long STATE_NUM = VRING_STATE.byteOffset(groupElement("num"));

    /** {@code struct vhost_vring_file { unsigned int index; int fd; }}: 8 bytes; fd -1 unbinds. */
    static final StructLayout VRING_FILE = MemoryLayout.structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("fd"));
    static final long FILE_INDEX = VRING_FILE.byteOffset(groupElement("index"));
    static final long FILE_FD = VRING_FILE.byteOffset(groupElement("fd"));

    /**
     * {@code struct vhost_vring_addr}: 40 bytes.
     *
     * <pre>
     *  0 index   4 flags   8 desc_user_addr   16 used_user_addr   24 avail_user_addr   32 log_guest_addr
     * </pre>
     *
     * Note the order: used before avail. With vhost-vdpa and an IOTLB the "user" addresses are
     * IOVAs, not the client's virtual addresses.
     */
    static final StructLayout VRING_ADDR = MemoryLayout.structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("flags"),
            JAVA_LONG.withName("desc_user_addr"), JAVA_LONG.withName("used_user_addr"),
            JAVA_LONG.withName("avail_user_addr"), JAVA_LONG.withName("log_guest_addr"));
    static final long ADDR_INDEX = VRING_ADDR.byteOffset(groupElement("index"));
    static final long ADDR_FLAGS = VRING_ADDR.byteOffset(groupElement("flags"));
    static final long ADDR_DESC = VRING_ADDR.byteOffset(groupElement("desc_user_addr"));
    static final long ADDR_USED = VRING_ADDR.byteOffset(groupElement("used_user_addr"));
    static final long ADDR_AVAIL = VRING_ADDR.byteOffset(groupElement("avail_user_addr"));
    static final long ADDR_LOG = VRING_ADDR.byteOffset(groupElement("log_guest_addr"));

    /**
     * {@code struct vhost_iotlb_msg}: 32 bytes (26 of fields, padded to the alignment of its u64s).
     *
     * <pre>
     *  0 iova   8 size   16 uaddr   24 perm (u8)   25 type (u8)   26..31 padding
     * </pre>
     */
    static final StructLayout IOTLB_MSG = MemoryLayout.structLayout(
            JAVA_LONG.withName("iova"), JAVA_LONG.withName("size"), JAVA_LONG.withName("uaddr"),
            JAVA_BYTE.withName("perm"), JAVA_BYTE.withName("type"), MemoryLayout.paddingLayout(6));
    static final long IOTLB_IOVA = IOTLB_MSG.byteOffset(groupElement("iova"));
    static final long IOTLB_SIZE = IOTLB_MSG.byteOffset(groupElement("size"));
    static final long IOTLB_UADDR = IOTLB_MSG.byteOffset(groupElement("uaddr"));
    static final long IOTLB_PERM = IOTLB_MSG.byteOffset(groupElement("perm"));
    static final long IOTLB_TYPE = IOTLB_MSG.byteOffset(groupElement("type"));

    /**
     * {@code struct vhost_msg_v2 { __u32 type; __u32 asid; union { struct vhost_iotlb_msg iotlb;
     * __u8 padding[64]; }; }}: 72 bytes, written whole to the vhost fd. The kernel reads {@code asid}
     * only when {@code VHOST_BACKEND_F_IOTLB_ASID} is negotiated (drivers/vhost/vhost.c,
     * vhost_chr_write_iter) and skips it otherwise.
     */
    static final StructLayout MSG_V2 = MemoryLayout.structLayout(
            JAVA_INT.withName("type"), JAVA_INT.withName("asid"),
            MemoryLayout.unionLayout(IOTLB_MSG.withName("iotlb"),
                    MemoryLayout.sequenceLayout(64, JAVA_BYTE).withName("padding")).withName("u"));
    static final long MSG_TYPE = MSG_V2.byteOffset(groupElement("type"));
    static final long MSG_ASID = MSG_V2.byteOffset(groupElement("asid"));
    static final long MSG_IOTLB = MSG_V2.byteOffset(groupElement("u"));
    static final UnionLayout MSG_UNION = (UnionLayout) MSG_V2.select(groupElement("u"));

    /** {@code struct vhost_vdpa_config { __u32 off; __u32 len; __u8 buf[]; }}: 8 bytes and the buffer. */
    static final StructLayout VDPA_CONFIG = MemoryLayout.structLayout(
            JAVA_INT.withName("off"), JAVA_INT.withName("len"));
    static final long CONFIG_OFF = VDPA_CONFIG.byteOffset(groupElement("off"));
    static final long CONFIG_LEN = VDPA_CONFIG.byteOffset(groupElement("len"));
    static final long CONFIG_BUF = VDPA_CONFIG.byteSize();

    /** {@code struct vhost_vdpa_iova_range { __u64 first; __u64 last; }}: 16 bytes. */
    static final StructLayout IOVA_RANGE = MemoryLayout.structLayout(
            JAVA_LONG.withName("first"), JAVA_LONG.withName("last"));

    /** {@code VHOST_IOTLB_MSG_V2}: the {@code type} of a {@code vhost_msg_v2}. */
    static final int IOTLB_MSG_V2 = 0x2;

    /** {@code VHOST_IOTLB_UPDATE}: map {@code [iova, iova + size)} to {@code uaddr}. */
    static final byte IOTLB_UPDATE = 2;
    /** {@code VHOST_IOTLB_INVALIDATE}: unmap {@code [iova, iova + size)}. */
    static final byte IOTLB_INVALIDATE = 3;
    /** {@code VHOST_IOTLB_BATCH_BEGIN}: hold the device's map update until BATCH_END (IOTLB_BATCH). */
    static final byte IOTLB_BATCH_BEGIN = 5;
    /** {@code VHOST_IOTLB_BATCH_END}. */
    static final byte IOTLB_BATCH_END = 6;

    /** {@code VHOST_ACCESS_RO}, {@code _WO}, {@code _RW}: the {@code perm} of an update. */
    static final byte ACCESS_RO = 0x1;
    static final byte ACCESS_WO = 0x2;
    static final byte ACCESS_RW = 0x3;

    /** Backend feature bit numbers ({@code VHOST_BACKEND_F_*}). */
    static final int BACKEND_F_IOTLB_MSG_V2 = 0x1;
    static final int BACKEND_F_IOTLB_BATCH = 0x2;
    static final int BACKEND_F_IOTLB_ASID = 0x3;
    static final int BACKEND_F_SUSPEND = 0x4;
    static final int BACKEND_F_RESUME = 0x5;
    static final int BACKEND_F_ENABLE_AFTER_DRIVER_OK = 0x6;
    static final int BACKEND_F_DESC_ASID = 0x7;
    static final int BACKEND_F_IOTLB_PERSIST = 0x8;
}
