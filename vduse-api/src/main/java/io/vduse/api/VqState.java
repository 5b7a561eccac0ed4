package io.vduse.api;

import static io.vduse.api.Layouts.U16;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.UnionLayout;

/**
 * The state of a virtqueue that the kernel asks for ({@code VDUSE_GET_VQ_STATE}) and reports
 * ({@code VDUSE_VQ_GET_INFO}): the union of {@code struct vduse_vq_state_split} and
 * {@code struct vduse_vq_state_packed}. Which member is meant depends on whether
 * {@code VIRTIO_F_RING_PACKED} was negotiated; the bytes do not say.
 *
 * <pre>
 * split:  0 u16 avail_index
 * packed: 0 u16 last_avail_counter  1 if the device's driver-ring wrap counter is set
 *         2 u16 last_avail_idx
 *         4 u16 last_used_counter   1 if the device's used wrap counter is set
 *         6 u16 last_used_idx
 * </pre>
 */
public sealed interface VqState {

    /** The union, 8 bytes (the size of its larger member). */
    UnionLayout LAYOUT = MemoryLayout.unionLayout(
            MemoryLayout.structLayout(U16.withName("avail_index")).withName("split"),
            MemoryLayout.structLayout(
                    U16.withName("last_avail_counter"),
                    U16.withName("last_avail_idx"),
                    U16.withName("last_used_counter"),
                    U16.withName("last_used_idx")).withName("packed"));

    /** Writes this member at {@code offset}; the rest of the union is left as it is. */
    void writeTo(MemorySegment segment, long offset);

    /** Reads the union at {@code offset} as the member {@code packed} says. */
    static VqState readFrom(MemorySegment segment, long offset, boolean packed) {
        return packed ? Packed.readFrom(segment, offset) : Split.readFrom(segment, offset);
    }

    /**
     * Split ring state: the next available ring index the device will read.
     *
     * @param availIndex last_avail_idx, 0..65535
     */
    record Split(int availIndex) implements VqState {

        /** Checks the range. */
        public Split {
            checkU16("avail_index", availIndex);
        }

        @Override
        public void writeTo(MemorySegment segment, long offset) {
            segment.set(U16, offset, (short) availIndex);
        }

        static Split readFrom(MemorySegment segment, long offset) {
            return new Split(Short.toUnsignedInt(segment.get(U16, offset)));
        }
    }

    /**
     * Packed ring state: where the device is in the descriptor ring, for reading and for
     * writing back, with the wrap counters of each.
     *
     * @param lastAvailCounter the driver-ring wrap counter the device expects next, 0 or 1
     * @param lastAvailIdx the next descriptor the device will read
     * @param lastUsedCounter the device's used wrap counter, 0 or 1
     * @param lastUsedIdx the next descriptor the device will write back
     */
    record Packed(int lastAvailCounter, int lastAvailIdx, int lastUsedCounter, int lastUsedIdx)
            implements VqState {

        /** Checks the ranges. */
        public Packed {
            checkU16("last_avail_counter", lastAvailCounter);
            checkU16("last_avail_idx", lastAvailIdx);
            checkU16("last_used_counter", lastUsedCounter);
            checkU16("last_used_idx", lastUsedIdx);
        }

        @Override
        public void writeTo(MemorySegment segment, long offset) {
            segment.set(U16, offset, (short) lastAvailCounter);
            segment.set(U16, offset + 2, (short) lastAvailIdx);
            segment.set(U16, offset + 4, (short) lastUsedCounter);
            segment.set(U16, offset + 6, (short) lastUsedIdx);
        }

        static Packed readFrom(MemorySegment segment, long offset) {
            return new Packed(
                    Short.toUnsignedInt(segment.get(U16, offset)),
                    Short.toUnsignedInt(segment.get(U16, offset + 2)),
                    Short.toUnsignedInt(segment.get(U16, offset + 4)),
                    Short.toUnsignedInt(segment.get(U16, offset + 6)));
        }
    }

    private static void checkU16(String field, int value) {
        if (value < 0 || value > 0xffff) {
            throw new IllegalArgumentException(field + " out of range 0..65535: " + value);
        }
    }
}
