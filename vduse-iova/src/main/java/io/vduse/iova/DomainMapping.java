package io.vduse.iova;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One IOTLB entry of an {@link IovaDomain}, as {@code VDUSE_IOTLB_GET_FD} reports it: the
 * range, where it lies in the domain's file, what the device may do with it, and the memory
 * whose file descriptor the device maps.
 *
 * @param start first IOVA of the entry
 * @param last last IOVA of the entry, inclusive
 * @param offset file offset of {@code start} in {@code memory}; equals {@code start} in a VDUSE
 *     domain
 * @param access the permission ({@code perm} of {@code struct vduse_iotlb_entry})
 * @param memory the domain memory, whose {@link DomainMemory#fd()} is the fd to hand out
 */
public record DomainMapping(long start, long last, long offset, Access access, DomainMemory memory) {

    /** Checks the range and that the memory holds it. */
    public DomainMapping {
        Ranges.checkRange(start, last);
        Objects.requireNonNull(access, "access");
        Objects.requireNonNull(memory, "memory");
    }

    /** The number of bytes of the entry. */
    public long size() {
        return last - start + 1;
    }

    /**
     * The entry's bytes in the domain memory, for in-process translation without {@code mmap}.
     * Allocates a slice.
     */
    public MemorySegment segment() {
        return memory.segment().asSlice(offset, size());
    }
}
