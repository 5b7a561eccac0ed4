package io.vduse.api;

import static io.vduse.api.Layouts.U64;
import static io.vduse.api.Layouts.U8;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * {@code struct vduse_iotlb_entry}: the argument of {@code VDUSE_IOTLB_GET_FD}. Userspace fills
 * {@code start} and {@code last}; the kernel answers with the first IOTLB entry overlapping them,
 * its file offset and its permission, and returns the file as the ioctl's result.
 *
 * <pre>
 *  0 u64 offset   mmap offset in the returned fd
 *  8 u64 start    first IOVA of the region
 * 16 u64 last     last IOVA of the region, inclusive
 * 24 u8  perm     VDUSE_ACCESS_RO / _WO / _RW
 * 25 u8  pad[7]
 * </pre>
 *
 * @param offset the region's offset in the file the ioctl returns
 * @param start first IOVA of the region
 * @param last last IOVA of the region, inclusive, unsigned
 * @param perm {@link Vduse#ACCESS_RO}, {@link Vduse#ACCESS_WO} or {@link Vduse#ACCESS_RW}
 */
public record VduseIotlbEntry(long offset, long start, long last, int perm) {

    /** The struct, with its tail padding to 8-byte alignment. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U64.withName("offset"),
            U64.withName("start"),
            U64.withName("last"),
            U8.withName("perm"),
            MemoryLayout.paddingLayout(7))
            .withName("vduse_iotlb_entry");

    /** Offset of {@code offset}. */
    public static final long OFFSET = LAYOUT.byteOffset(groupElement("offset"));
    /** Offset of {@code start}. */
    public static final long START = LAYOUT.byteOffset(groupElement("start"));
    /** Offset of {@code last}. */
    public static final long LAST = LAYOUT.byteOffset(groupElement("last"));
    /** Offset of {@code perm}. */
    public static final long PERM = LAYOUT.byteOffset(groupElement("perm"));

    /** A query for the region overlapping {@code [start, last]}, as userspace sends it. */
    public static VduseIotlbEntry query(long start, long last) {
        return new VduseIotlbEntry(0, start, last, 0);
    }

    /** Writes the struct at the start of {@code segment}, padding zeroed. */
    public void writeTo(MemorySegment segment) {
        segment.asSlice(0, LAYOUT.byteSize()).fill((byte) 0);
        writeFields(segment, 0);
    }

    void writeFields(MemorySegment segment, long base) {
        segment.set(U64, base + OFFSET, offset);
        segment.set(U64, base + START, start);
        segment.set(U64, base + LAST, last);
        segment.set(U8, base + PERM, (byte) perm);
    }

    /** Reads the struct at the start of {@code segment}. */
    public static VduseIotlbEntry readFrom(MemorySegment segment) {
        return readFields(segment, 0);
    }

    static VduseIotlbEntry readFields(MemorySegment segment, long base) {
        return new VduseIotlbEntry(
                segment.get(U64, base + OFFSET),
                segment.get(U64, base + START),
                segment.get(U64, base + LAST),
                Byte.toUnsignedInt(segment.get(U8, base + PERM)));
    }
}
