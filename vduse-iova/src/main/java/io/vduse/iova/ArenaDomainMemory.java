package io.vduse.iova;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Domain memory from a shared {@link Arena}, with no file behind it: for tests and for users
 * that translate IOVAs in-process (see {@link IovaDomain#mappingSource()}). {@code ArenaDomainMemory::new}
 * is a {@link DomainMemory.Factory}.
 */
public final class ArenaDomainMemory implements DomainMemory {

    private final Arena arena;
    private final MemorySegment segment;

    /**
     * Allocates {@code size} zeroed bytes, page-aligned.
     *
     * @throws IllegalArgumentException if {@code size} is not positive
     */
    public ArenaDomainMemory(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("domain memory of %d bytes".formatted(size));
        }
        // Shared: the device's queue threads and the driver side touch it from many threads,
        // and whichever closes it must not be the allocating thread.
        this.arena = Arena.ofShared();
        this.segment = arena.allocate(size, IovaDomain.PAGE_SIZE);
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    /** Always -1: arena memory has no file. */
    @Override
    public int fd() {
        return -1;
    }

    /** Closes the arena; racing accesses to the segment fail with IllegalStateException. */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
