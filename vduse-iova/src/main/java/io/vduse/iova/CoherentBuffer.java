package io.vduse.iova;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A coherent DMA allocation of an {@link IovaDomain}: the driver uses {@link #memory()}
 * directly and gives {@link #iova()} to the device; no copying, no sync.
 *
 * @param iova the device address of the first byte
 * @param memory the driver's view of the bytes, {@code size} bytes long
 */
public record CoherentBuffer(long iova, MemorySegment memory) {

    /** Checks the memory. */
    public CoherentBuffer {
        Objects.requireNonNull(memory, "memory");
    }

    /** The size asked for, in bytes. */
    public long size() {
        return memory.byteSize();
    }
}
