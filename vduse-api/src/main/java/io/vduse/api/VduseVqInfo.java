package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static io.vduse.api.Layouts.U64;
import static io.vduse.api.Layouts.U8;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.Objects;

/**
 * {@code struct vduse_vq_info}: the argument of {@code VDUSE_VQ_GET_INFO}. Userspace fills
 * {@code index}; the kernel fills the rest with what the driver set up.
 *
 * <pre>
 *  0 u32 index
 *  4 u32 num           ring size the driver chose
 *  8 u64 desc_addr     IOVA of the descriptor area
 * 16 u64 driver_addr   IOVA of the driver area (split: avail ring; packed: driver event)
 * 24 u64 device_addr   IOVA of the device area (split: used ring; packed: device event)
 * 32 union vq_state    see {@link VqState}
 * 40 u8  ready
 * 41 u8  pad[7]
 * </pre>
 *
 * @param index virtqueue index
 * @param num ring size
 * @param descAddr IOVA of the descriptor area
 * @param driverAddr IOVA of the driver area
 * @param deviceAddr IOVA of the device area
 * @param state where the ring was left
 * @param ready whether the driver enabled the queue
 */
public record VduseVqInfo(
        int index, int num, long descAddr, long driverAddr, long deviceAddr, VqState state, boolean ready) {

    /** The struct, 48 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U32.withName("index"),
            U32.withName("num"),
            U64.withName("desc_addr"),
            U64.withName("driver_addr"),
            U64.withName("device_addr"),
            VqState.LAYOUT.withName("state"),
            U8.withName("ready"),
            MemoryLayout.paddingLayout(7))
            .withName("vduse_vq_info");

    /** Offset of {@code index}. */
    public static final long INDEX = LAYOUT.byteOffset(groupElement("index"));
    /** Offset of {@code num}. */
    public static final long NUM = LAYOUT.byteOffset(groupElement("num"));
    /** Offset of {@code desc_addr}. */
    public static final long DESC_ADDR = LAYOUT.byteOffset(groupElement("desc_addr"));
    /** Offset of {@code driver_addr}. */
    public static final long DRIVER_ADDR = LAYOUT.byteOffset(groupElement("driver_addr"));
    /** Offset of {@code device_addr}. */
    public static final long DEVICE_ADDR = LAYOUT.byteOffset(groupElement("device_addr"));
    /** Offset of the state union. */
    public static final long STATE = LAYOUT.byteOffset(groupElement("state"));
    /** Offset of {@code ready}. */
    public static final long READY = LAYOUT.byteOffset(groupElement("ready"));

    /** Requires a state. */
    public VduseVqInfo {
        Objects.requireNonNull(state, "state");
    }

    /** Writes the whole struct, as the kernel answers it, at the start of {@code segment}. */
    public void writeTo(MemorySegment segment) {
        segment.asSlice(0, LAYOUT.byteSize()).fill((byte) 0);
        segment.set(U32, INDEX, index);
        segment.set(U32, NUM, num);
        segment.set(U64, DESC_ADDR, descAddr);
        segment.set(U64, DRIVER_ADDR, driverAddr);
        segment.set(U64, DEVICE_ADDR, deviceAddr);
        state.writeTo(segment, STATE);
        segment.set(U8, READY, (byte) (ready ? 1 : 0));
    }

    /** Writes the query userspace sends: the index, everything else zero. */
    public static void writeQuery(MemorySegment segment, int index) {
        segment.asSlice(0, LAYOUT.byteSize()).fill((byte) 0);
        segment.set(U32, INDEX, index);
    }

    /**
     * Reads the kernel's answer.
     *
     * @param packed whether {@code VIRTIO_F_RING_PACKED} was negotiated, which selects the
     *     member of the state union
     */
    public static VduseVqInfo readFrom(MemorySegment segment, boolean packed) {
        return new VduseVqInfo(
                segment.get(U32, INDEX),
                segment.get(U32, NUM),
                segment.get(U64, DESC_ADDR),
                segment.get(U64, DRIVER_ADDR),
                segment.get(U64, DEVICE_ADDR),
                VqState.readFrom(segment, STATE, packed),
                segment.get(U8, READY) != 0);
    }
}
