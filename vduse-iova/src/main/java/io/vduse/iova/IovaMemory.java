package io.vduse.iova;

import java.lang.foreign.MemorySegment;

/**
 * Device-side view of IOVA space: turns an address from a descriptor into memory.
 *
 * <p>The one method virtqueues need is {@link #mapping}: it returns the whole mapping holding an
 * address, so a ring can copy to and from {@code mapping.memory()} at an offset without
 * allocating a slice per buffer. A buffer that spans two mappings is walked by asking again at
 * the first address past the end of the previous mapping.
 *
 * <p>Implementations are safe for concurrent use by queue threads while the message thread
 * invalidates ranges.
 */
public interface IovaMemory {

    /**
     * The mapping holding {@code iova}, which must allow {@code access}.
     *
     * @throws IovaFault {@link IovaFault.Reason#UNMAPPED} if nothing maps the address,
     *     {@link IovaFault.Reason#PERMISSION} if the mapping lacks the access
     */
    Mapping mapping(long iova, Access access);

    /**
     * The memory of {@code [iova, iova + length)} as one slice, for ranges known to be contiguous
     * (ring areas in coherent memory). Allocates the slice: not for the per-request path.
     *
     * @throws IovaFault {@link IovaFault.Reason#ZERO_LENGTH} for length 0,
     *     {@link IovaFault.Reason#OVERFLOW} if the range wraps past 2^64,
     *     {@link IovaFault.Reason#NOT_CONTIGUOUS} if one mapping does not hold all of it, or
     *     as {@link #mapping}
     */
    default MemorySegment slice(long iova, long length, Access access) {
        if (length == 0) {
            throw new IovaFault(IovaFault.Reason.ZERO_LENGTH, iova, length, access);
        }
        if (Long.compareUnsigned(iova + length - 1, iova) < 0) {
            throw new IovaFault(IovaFault.Reason.OVERFLOW, iova, length, access);
        }
        Mapping mapping = mapping(iova, access);
        if (Long.compareUnsigned(length, mapping.remainingFrom(iova)) > 0) {
            throw new IovaFault(IovaFault.Reason.NOT_CONTIGUOUS, iova, length, access);
        }
        return mapping.memory().asSlice(mapping.offsetOf(iova), length);
    }
}
