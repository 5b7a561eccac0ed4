package io.vduse.api.virtio;

import static io.vduse.api.Layouts.LE16;
import static io.vduse.api.Layouts.LE32;
import static io.vduse.api.Layouts.LE64;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * The split virtqueue layout (virtio 1.2, 2.7), all fields little-endian.
 *
 * <pre>
 * descriptor table, 16 bytes per entry, 16-byte aligned:
 *   0 le64 addr    8 le32 len    12 le16 flags    14 le16 next
 * available ring (driver area), 2-byte aligned:
 *   0 le16 flags   2 le16 idx   4 le16 ring[size]   4+2*size le16 used_event
 * used ring (device area), 4-byte aligned:
 *   0 le16 flags   2 le16 idx   4 { le32 id; le32 len; } ring[size]   4+8*size le16 avail_event
 * </pre>
 */
public final class SplitRing {

    /** {@code struct virtq_desc}. */
    public static final StructLayout DESC = MemoryLayout.structLayout(
            LE64.withName("addr"),
            LE32.withName("len"),
            LE16.withName("flags"),
            LE16.withName("next"))
            .withName("virtq_desc");

    /** Size of a descriptor. */
    public static final long DESC_SIZE = DESC.byteSize();
    /** Offset of {@code addr} in a descriptor. */
    public static final long DESC_ADDR = DESC.byteOffset(groupElement("addr"));
    /** Offset of {@code len} in a descriptor. */
    public static final long DESC_LEN = DESC.byteOffset(groupElement("len"));
    /** Offset of {@code flags} in a descriptor. */
    public static final long DESC_FLAGS = DESC.byteOffset(groupElement("flags"));
    /** Offset of {@code next} in a descriptor. */
    public static final long DESC_NEXT = DESC.byteOffset(groupElement("next"));

    /** {@code VIRTQ_DESC_F_NEXT}: the chain continues at {@code next}. */
    public static final int DESC_F_NEXT = 1;
    /** {@code VIRTQ_DESC_F_WRITE}: the device writes this buffer (else reads it). */
    public static final int DESC_F_WRITE = 2;
    /** {@code VIRTQ_DESC_F_INDIRECT}: the buffer holds a table of descriptors. */
    public static final int DESC_F_INDIRECT = 4;

    /** Offset of {@code flags} in the available ring. */
    public static final long AVAIL_FLAGS = 0;
    /** Offset of {@code idx} in the available ring. */
    public static final long AVAIL_IDX = 2;
    /** Offset of {@code ring[0]} in the available ring. */
    public static final long AVAIL_RING = 4;
    /** {@code VIRTQ_AVAIL_F_NO_INTERRUPT}: the driver asks not to be interrupted. */
    public static final int AVAIL_F_NO_INTERRUPT = 1;

    /** Offset of {@code flags} in the used ring. */
    public static final long USED_FLAGS = 0;
    /** Offset of {@code idx} in the used ring. */
    public static final long USED_IDX = 2;
    /** Offset of {@code ring[0]} in the used ring. */
    public static final long USED_RING = 4;
    /** {@code struct virtq_used_elem}. */
    public static final StructLayout USED_ELEM = MemoryLayout.structLayout(
            LE32.withName("id"),
            LE32.withName("len"))
            .withName("virtq_used_elem");
    /** Size of a used element. */
    public static final long USED_ELEM_SIZE = USED_ELEM.byteSize();
    /** {@code VIRTQ_USED_F_NO_NOTIFY}: the device asks not to be kicked. */
    public static final int USED_F_NO_NOTIFY = 1;

    /** Alignment of the descriptor table. */
    public static final int DESC_ALIGN = 16;
    /** Alignment of the available ring. */
    public static final int AVAIL_ALIGN = 2;
    /** Alignment of the used ring. */
    public static final int USED_ALIGN = 4;
    /** Largest queue size of a split ring. */
    public static final int MAX_SIZE = 32768;

    private SplitRing() {}

    /** Bytes of a descriptor table of {@code size} entries. */
    public static long descTableSize(int size) {
        return DESC_SIZE * size;
    }

    /** Bytes of the available ring, {@code used_event} included. */
    public static long availRingSize(int size) {
        return AVAIL_RING + 2L * size + 2;
    }

    /** Offset of {@code used_event} in the available ring. */
    public static long usedEventOffset(int size) {
        return AVAIL_RING + 2L * size;
    }

    /** Bytes of the used ring, {@code avail_event} included. */
    public static long usedRingSize(int size) {
        return USED_RING + USED_ELEM_SIZE * size + 2;
    }

    /** Offset of {@code avail_event} in the used ring. */
    public static long availEventOffset(int size) {
        return USED_RING + USED_ELEM_SIZE * size;
    }

    /**
     * {@code vring_need_event} (virtio 1.2, 2.7.10): whether moving an index from {@code oldIdx}
     * to {@code newIdx} passes {@code eventIdx}, all 16-bit and wrapping.
     */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }
}
