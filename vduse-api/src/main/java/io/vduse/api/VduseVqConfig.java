package io.vduse.api;

import static io.vduse.api.Layouts.U16;
import static io.vduse.api.Layouts.U32;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * {@code struct vduse_vq_config}: the argument of {@code VDUSE_VQ_SETUP}.
 *
 * <pre>
 *  0 u32 index
 *  4 u16 max_size
 *  6 u16 reserved1      zero
 *  8 u32 group          API v1: the virtqueue's group; else zero
 * 12 u16 reserved2[10]  zero
 * </pre>
 *
 * @param index virtqueue index
 * @param maxSize largest ring the device accepts, unsigned 16 bits
 * @param group virtqueue group (API v1; 0 with v0)
 */
public record VduseVqConfig(int index, int maxSize, int group) {

    /** The struct, 32 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U32.withName("index"),
            U16.withName("max_size"),
            U16.withName("reserved1"),
            U32.withName("group"),
            MemoryLayout.sequenceLayout(10, U16).withName("reserved2"))
            .withName("vduse_vq_config");

    /** Offset of {@code index}. */
    public static final long INDEX = LAYOUT.byteOffset(groupElement("index"));
    /** Offset of {@code max_size}. */
    public static final long MAX_SIZE = LAYOUT.byteOffset(groupElement("max_size"));
    /** Offset of {@code group}. */
    public static final long GROUP = LAYOUT.byteOffset(groupElement("group"));

    /** Checks that the size fits 16 bits. */
    public VduseVqConfig {
        if (maxSize < 0 || maxSize > 0xffff) {
            throw new IllegalArgumentException("max_size out of range 0..65535: " + maxSize);
        }
    }

    /** Writes the struct at the start of {@code segment}, reserved fields zeroed. */
    public void writeTo(MemorySegment segment) {
        segment.asSlice(0, LAYOUT.byteSize()).fill((byte) 0);
        segment.set(U32, INDEX, index);
        segment.set(U16, MAX_SIZE, (short) maxSize);
        segment.set(U32, GROUP, group);
    }

    /** Reads the struct at the start of {@code segment}. */
    public static VduseVqConfig readFrom(MemorySegment segment) {
        return new VduseVqConfig(
                segment.get(U32, INDEX),
                Short.toUnsignedInt(segment.get(U16, MAX_SIZE)),
                segment.get(U32, GROUP));
    }
}
