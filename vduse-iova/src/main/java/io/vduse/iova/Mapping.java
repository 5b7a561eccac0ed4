package io.vduse.iova;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One contiguous range of IOVA space, {@code [start, last]} inclusive, backed by memory the
 * device can touch directly.
 *
 * <p>Byte {@code iova} of the range is byte {@code iova - start} of {@link #memory()}. A mapping
 * is made once per IOTLB entry and reused for every translation that hits it, so translating
 * allocates nothing: callers keep the mapping and an offset rather than slicing.
 *
 * <p>The memory may be closed when the kernel invalidates the range ({@code VDUSE_UPDATE_IOTLB});
 * an access racing that close fails with {@link IllegalStateException} from the segment, never
 * with a fault of the process.
 *
 * @param start first IOVA of the range
 * @param last last IOVA of the range, unsigned, {@code last >= start}
 * @param access what the device may do with the range
 * @param memory the bytes of the range; its size is {@code last - start + 1}
 */
public record Mapping(long start, long last, Access access, MemorySegment memory) {

    /** Checks that the range is ordered and that the memory covers it exactly. */
    public Mapping {
        Objects.requireNonNull(access, "access");
        Objects.requireNonNull(memory, "memory");
        if (Long.compareUnsigned(last, start) < 0) {
            throw new IllegalArgumentException(
                    "last 0x%x is below start 0x%x".formatted(last, start));
        }
        if (memory.byteSize() != last - start + 1) {
            throw new IllegalArgumentException(
                    "memory of %d bytes for IOVA range [0x%x, 0x%x]"
                            .formatted(memory.byteSize(), start, last));
        }
    }

    /** Whether {@code iova} lies inside this range. */
    public boolean contains(long iova) {
        return Long.compareUnsigned(iova, start) >= 0 && Long.compareUnsigned(iova, last) <= 0;
    }

    /** The offset of {@code iova} inside {@link #memory()}; {@code iova} must lie in the range. */
    public long offsetOf(long iova) {
        return iova - start;
    }

    /** How many bytes of the range there are from {@code iova} to its end, inclusive. */
    public long remainingFrom(long iova) {
        return last - iova + 1;
    }
}
