package io.vduse.iova;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Device-side view of IOVA space: turns an address from a descriptor into memory.
 *
 * <p>The one method virtqueues need is {@link #mapping}: it returns the whole mapping holding an
 * address, so a ring can copy to and from {@code mapping.memory()} at an offset without
 * allocating a slice per buffer. A buffer that spans two mappings is walked by asking again at
 * the first address past the end of the previous mapping; {@link #gather}, {@link #readBytes} and
 * {@link #writeBytes} do that walk without allocating.
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
        Ranges.checkBuffer(iova, length, access);
        Mapping mapping = mapping(iova, access);
        if (Long.compareUnsigned(length, mapping.remainingFrom(iova)) > 0) {
            throw new IovaFault(IovaFault.Reason.NOT_CONTIGUOUS, iova, length, access);
        }
        return mapping.memory().asSlice(mapping.offsetOf(iova), length);
    }

    /**
     * Fills {@code into} with the pieces of the buffer {@code [iova, iova + length)}, one per
     * mapping it crosses, and returns how many. Allocates nothing when every mapping is cached.
     * On a fault, {@code into} holds the pieces found before it.
     *
     * @param length bytes, unsigned
     * @throws IovaFault {@link IovaFault.Reason#ZERO_LENGTH} for length 0,
     *     {@link IovaFault.Reason#OVERFLOW} if the range wraps past 2^64,
     *     {@link IovaFault.Reason#NOT_CONTIGUOUS} if it crosses more mappings than {@code into}
     *     holds, or as {@link #mapping} for any address of the buffer
     */
    default int gather(long iova, long length, Access access, IovaPieces into) {
        Ranges.checkBuffer(iova, length, access);
        into.clear();
        long at = iova;
        long remaining = length;
        while (true) {
            Mapping mapping = mapping(at, access);
            long piece = Ranges.min(remaining, mapping.remainingFrom(at));
            if (!into.add(mapping, mapping.offsetOf(at), piece)) {
                throw new IovaFault(IovaFault.Reason.NOT_CONTIGUOUS, iova, length, access);
            }
            remaining -= piece;
            if (remaining == 0) {
                return into.count();
            }
            // remaining > 0 and the range does not wrap, so the mapping ends below 2^64 - 1.
            at = mapping.last() + 1;
        }
    }

    /**
     * The pieces of the buffer {@code [iova, iova + length)}, one per mapping it crosses, as a
     * new list: for paths that are not per request.
     *
     * @throws IovaFault as {@link #gather}, except that any number of pieces is allowed
     */
    default List<IovaPiece> pieces(long iova, long length, Access access) {
        Ranges.checkBuffer(iova, length, access);
        List<IovaPiece> pieces = new ArrayList<>();
        long at = iova;
        long remaining = length;
        while (remaining != 0) {
            Mapping mapping = mapping(at, access);
            long piece = Ranges.min(remaining, mapping.remainingFrom(at));
            pieces.add(new IovaPiece(mapping, mapping.offsetOf(at), piece));
            remaining -= piece;
            at = mapping.last() + 1;
        }
        return pieces;
    }

    /**
     * Copies the device-readable bytes at {@code iova} into {@code destination}, all of it,
     * across as many mappings as needed. Allocates nothing when every mapping is cached.
     *
     * @throws IovaFault as {@link #gather} with {@link Access#READ}; nothing is copied if the
     *     first mapping faults, a prefix may be if a later one does
     */
    default void readBytes(long iova, MemorySegment destination) {
        long length = destination.byteSize();
        Ranges.checkBuffer(iova, length, Access.READ);
        long at = iova;
        long done = 0;
        while (done != length) {
            Mapping mapping = mapping(at, Access.READ);
            long piece = Ranges.min(length - done, mapping.remainingFrom(at));
            MemorySegment.copy(mapping.memory(), mapping.offsetOf(at), destination, done, piece);
            done += piece;
            at = mapping.last() + 1;
        }
    }

    /**
     * Copies all of {@code source} to the device-writable bytes at {@code iova}, across as many
     * mappings as needed. Allocates nothing when every mapping is cached.
     *
     * @throws IovaFault as {@link #gather} with {@link Access#WRITE}; nothing is copied if the
     *     first mapping faults, a prefix may be if a later one does
     */
    default void writeBytes(long iova, MemorySegment source) {
        long length = source.byteSize();
        Ranges.checkBuffer(iova, length, Access.WRITE);
        long at = iova;
        long done = 0;
        while (done != length) {
            Mapping mapping = mapping(at, Access.WRITE);
            long piece = Ranges.min(length - done, mapping.remainingFrom(at));
            MemorySegment.copy(source, done, mapping.memory(), mapping.offsetOf(at), piece);
            done += piece;
            at = mapping.last() + 1;
        }
    }
}
