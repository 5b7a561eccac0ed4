package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * {@code struct vduse_vq_eventfd}: the argument of {@code VDUSE_VQ_SETUP_KICKFD}.
 *
 * <pre>
 * 0 u32 index
 * 4 s32 fd      an eventfd, or VDUSE_EVENTFD_DEASSIGN (-1) to remove it
 * </pre>
 *
 * @param index virtqueue index
 * @param fd the eventfd the kernel signals on a kick, or {@link Vduse#EVENTFD_DEASSIGN}
 */
public record VduseVqEventfd(int index, int fd) {

    /** The struct, 8 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U32.withName("index"),
            U32.withName("fd"))
            .withName("vduse_vq_eventfd");

    /** Offset of {@code index}. */
    public static final long INDEX = LAYOUT.byteOffset(groupElement("index"));
    /** Offset of {@code fd}. */
    public static final long FD = LAYOUT.byteOffset(groupElement("fd"));

    /** Writes the struct at the start of {@code segment}. */
    public void writeTo(MemorySegment segment) {
        segment.set(U32, INDEX, index);
        segment.set(U32, FD, fd);
    }

    /** Reads the struct at the start of {@code segment}. */
    public static VduseVqEventfd readFrom(MemorySegment segment) {
        return new VduseVqEventfd(segment.get(U32, INDEX), segment.get(U32, FD));
    }
}
