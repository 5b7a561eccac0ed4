package io.vduse.api.virtio;

import static io.vduse.api.Layouts.LE16;
import static io.vduse.api.Layouts.LE32;
import static io.vduse.api.Layouts.LE64;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * The packed virtqueue layout (virtio 1.2, 2.8), all fields little-endian.
 *
 * <pre>
 * descriptor ring, 16 bytes per entry, 16-byte aligned:
 *   0 le64 addr    8 le32 len    12 le16 id    14 le16 flags
 * driver and device event suppression areas, 4 bytes each, 4-byte aligned:
 *   0 le16 off_wrap   (bits 0..14 descriptor offset, bit 15 wrap counter)
 *   2 le16 flags      RING_EVENT_FLAGS_ENABLE / _DISABLE / _DESC
 * </pre>
 */
public final class PackedRing {

    /** {@code struct pvirtq_desc}. */
    public static final StructLayout DESC = MemoryLayout.structLayout(
            LE64.withName("addr"),
            LE32.withName("len"),
            LE16.withName("id"),
            LE16.withName("flags"))
            .withName("pvirtq_desc");

    /** Size of a descriptor. */
    public static final long DESC_SIZE = DESC.byteSize();
    /** Offset of {@code addr}. */
    public static final long DESC_ADDR = DESC.byteOffset(groupElement("addr"));
    /** Offset of {@code len}. */
    public static final long DESC_LEN = DESC.byteOffset(groupElement("len"));
    /** Offset of {@code id}. */
    public static final long DESC_ID = DESC.byteOffset(groupElement("id"));
    /** Offset of {@code flags}. */
    public static final long DESC_FLAGS = DESC.byteOffset(groupElement("flags"));

    /** {@code VIRTQ_DESC_F_NEXT}. */
    public static final int DESC_F_NEXT = 1;
    /** {@code VIRTQ_DESC_F_WRITE}. */
    public static final int DESC_F_WRITE = 2;
    /** {@code VIRTQ_DESC_F_INDIRECT}. */
    public static final int DESC_F_INDIRECT = 4;
    /** {@code VIRTQ_DESC_F_AVAIL}: bit 7, the driver's wrap counter when it made the descriptor available. */
    public static final int DESC_F_AVAIL = 1 << 7;
    /** {@code VIRTQ_DESC_F_USED}: bit 15, the device's wrap counter when it used the descriptor. */
    public static final int DESC_F_USED = 1 << 15;

    /** {@code struct pvirtq_event_suppress}. */
    public static final StructLayout EVENT_SUPPRESS = MemoryLayout.structLayout(
            LE16.withName("off_wrap"),
            LE16.withName("flags"))
            .withName("pvirtq_event_suppress");
    /** Size of an event suppression area. */
    public static final long EVENT_SUPPRESS_SIZE = EVENT_SUPPRESS.byteSize();
    /** Offset of {@code off_wrap}. */
    public static final long EVENT_OFF_WRAP = EVENT_SUPPRESS.byteOffset(groupElement("off_wrap"));
    /** Offset of {@code flags}. */
    public static final long EVENT_FLAGS = EVENT_SUPPRESS.byteOffset(groupElement("flags"));

    /** {@code RING_EVENT_FLAGS_ENABLE}: notify on every event. */
    public static final int EVENT_FLAGS_ENABLE = 0;
    /** {@code RING_EVENT_FLAGS_DISABLE}: do not notify. */
    public static final int EVENT_FLAGS_DISABLE = 1;
    /** {@code RING_EVENT_FLAGS_DESC}: notify when the descriptor in {@code off_wrap} is reached (EVENT_IDX). */
    public static final int EVENT_FLAGS_DESC = 2;

    /** Alignment of the descriptor ring. */
    public static final int DESC_ALIGN = 16;
    /** Alignment of the event suppression areas. */
    public static final int EVENT_ALIGN = 4;
    /** Largest queue size of a packed ring. */
    public static final int MAX_SIZE = 32768;

    private PackedRing() {}

    /** Bytes of a descriptor ring of {@code size} entries. */
    public static long descRingSize(int size) {
        return DESC_SIZE * size;
    }
}
