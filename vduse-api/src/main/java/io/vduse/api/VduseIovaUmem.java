package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static io.vduse.api.Layouts.U64;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * {@code struct vduse_iova_umem}: the argument of {@code VDUSE_IOTLB_REG_UMEM} and
 * {@code VDUSE_IOTLB_DEREG_UMEM}, userspace memory offered as the bounce pages of an IOVA range.
 *
 * <pre>
 *  0 u64 uaddr        page-aligned address of the memory in this process
 *  8 u64 iova         first IOVA of the range (the kernel accepts only 0)
 * 16 u64 size         the whole bounce range
 * 24 u32 asid         API v1: the address space; else zero
 * 28 u32 reserved[5]  zero
 * </pre>
 *
 * @param uaddr address of the memory
 * @param iova first IOVA of the range
 * @param size size of the range
 * @param asid address space id (API v1; 0 with v0)
 */
public record VduseIovaUmem(long uaddr, long iova, long size, int asid) {

    /** The struct, 48 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U64.withName("uaddr"),
            U64.withName("iova"),
            U64.withName("size"),
            U32.withName("asid"),
            MemoryLayout.sequenceLayout(5, U32).withName("reserved"))
            .withName("vduse_iova_umem");

    /** Offset of {@code uaddr}. */
    public static final long UADDR = LAYOUT.byteOffset(groupElement("uaddr"));
    /** Offset of {@code iova}. */
    public static final long IOVA = LAYOUT.byteOffset(groupElement("iova"));
    /** Offset of {@code size}. */
    public static final long SIZE = LAYOUT.byteOffset(groupElement("size"));
    /** Offset of {@code asid}. */
    public static final long ASID = LAYOUT.byteOffset(groupElement("asid"));

    /** Writes the struct at the start of {@code segment}, reserved words zeroed. */
    public void writeTo(MemorySegment segment) {
        segment.asSlice(0, LAYOUT.byteSize()).fill((byte) 0);
        segment.set(U64, UADDR, uaddr);
        segment.set(U64, IOVA, iova);
        segment.set(U64, SIZE, size);
        segment.set(U32, ASID, asid);
    }

    /** Reads the struct at the start of {@code segment}. */
    public static VduseIovaUmem readFrom(MemorySegment segment) {
        return new VduseIovaUmem(
                segment.get(U64, UADDR), segment.get(U64, IOVA), segment.get(U64, SIZE), segment.get(U32, ASID));
    }
}
