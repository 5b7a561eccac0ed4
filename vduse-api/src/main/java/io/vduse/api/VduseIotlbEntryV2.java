package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.Objects;

/**
 * {@code struct vduse_iotlb_entry_v2} (API v1): the argument of {@code VDUSE_IOTLB_GET_FD2}, the
 * original entry followed by the address space it is looked up in.
 *
 * <pre>
 *  0 struct vduse_iotlb_entry v1    32 bytes
 * 32 u32    asid
 * 36 u32    reserved[11]            zero
 * </pre>
 *
 * <p>80 bytes, as Linux 7.3's header has it (checked by compiling against it); the mainline
 * table this project started from said {@code reserved[12]} and 88 bytes, which would make
 * {@code VDUSE_IOTLB_GET_FD2} a number the kernel does not know.
 *
 * @param entry the original entry's fields
 * @param asid address space id, below the device's {@code nas}
 */
public record VduseIotlbEntryV2(VduseIotlbEntry entry, int asid) {

    /** The struct, 80 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            VduseIotlbEntry.LAYOUT.withName("v1"),
            U32.withName("asid"),
            MemoryLayout.sequenceLayout(11, U32).withName("reserved"))
            .withName("vduse_iotlb_entry_v2");

    /** Offset of {@code v1}. */
    public static final long V1 = LAYOUT.byteOffset(groupElement("v1"));
    /** Offset of {@code asid}. */
    public static final long ASID = LAYOUT.byteOffset(groupElement("asid"));
    /** Offset of {@code reserved}. */
    public static final long RESERVED = LAYOUT.byteOffset(groupElement("reserved"));

    /** Requires the nested entry. */
    public VduseIotlbEntryV2 {
        Objects.requireNonNull(entry, "entry");
    }

    /** Writes the struct at the start of {@code segment}, reserved words and padding zeroed. */
    public void writeTo(MemorySegment segment) {
        segment.asSlice(0, LAYOUT.byteSize()).fill((byte) 0);
        entry.writeFields(segment, V1);
        segment.set(U32, ASID, asid);
    }

    /** Reads the struct at the start of {@code segment}. */
    public static VduseIotlbEntryV2 readFrom(MemorySegment segment) {
        return new VduseIotlbEntryV2(VduseIotlbEntry.readFields(segment, V1), segment.get(U32, ASID));
    }
}
