package io.vduse.iova;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One piece of a buffer: {@code length} bytes at {@code offset} of {@code mapping}'s memory. The
 * allocating counterpart of an {@link IovaPieces} slot, for paths that are not per request.
 *
 * @param mapping the mapping holding the piece
 * @param offset where the piece starts in the mapping's memory
 * @param length the byte count
 */
public record IovaPiece(Mapping mapping, long offset, long length) {

    /** Checks that the piece lies inside the mapping. */
    public IovaPiece {
        Objects.requireNonNull(mapping, "mapping");
        Objects.checkFromIndexSize(offset, length, mapping.memory().byteSize());
    }

    /** The piece's bytes, as a new slice. */
    public MemorySegment segment() {
        return mapping.memory().asSlice(offset, length);
    }
}
