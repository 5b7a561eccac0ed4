package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static io.vduse.api.Layouts.U64;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * {@code struct vduse_iova_info}: the argument of {@code VDUSE_IOTLB_GET_INFO}. Userspace fills
 * {@code start} and {@code last}; the kernel answers with the first region overlapping them.
 *
 * <pre>
 *  0 u64 start
 *  8 u64 last
 * 16 u64 capability   VDUSE_IOVA_CAP_UMEM
 * 24 u32 asid         API v1; else zero
 * 28 u32 reserved[5]  zero
 * </pre>
 *
 * @param start first IOVA of the region
 * @param last last IOVA of the region, inclusive
 * @param capability capability bits, see {@link Vduse#IOVA_CAP_UMEM}
 * @param asid address space id (API v1; 0 with v0)
 */
public record VduseIovaInfo(long start, long last, long capability, int asid) {

    /** The struct, 48 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U64.withName("start"),
            U64.withName("last"),
            U64.withName("capability"),
            U32.withName("asid"),
            MemoryLayout.sequenceLayout(5, U32).withName("reserved"))
            .withName("vduse_iova_info");

    /** Offset of {@code start}. */
    public static final long START = LAYOUT.byteOffset(groupElement("start"));
    /** Offset of {@code last}. */
    public static final long LAST = LAYOUT.byteOffset(groupElement("last"));
    /** Offset of {@code capability}. */
    public static final long CAPABILITY = LAYOUT.byteOffset(groupElement("capability"));
    /** Offset of {@code asid}. */
    public static final long ASID = LAYOUT.byteOffset(groupElement("asid"));

    /** Writes the struct at the start of {@code segment}, reserved words zeroed. */
    public void writeTo(MemorySegment segment) {
        segment.asSlice(0, LAYOUT.byteSize()).fill((byte) 0);
        segment.set(U64, START, start);
        segment.set(U64, LAST, last);
        segment.set(U64, CAPABILITY, capability);
        segment.set(U32, ASID, asid);
    }

    /** Reads the struct at the start of {@code segment}. */
    public static VduseIovaInfo readFrom(MemorySegment segment) {
        return new VduseIovaInfo(
                segment.get(U64, START), segment.get(U64, LAST), segment.get(U64, CAPABILITY), segment.get(U32, ASID));
    }
}
