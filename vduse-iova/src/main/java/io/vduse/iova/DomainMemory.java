package io.vduse.iova;

import java.lang.foreign.MemorySegment;

/**
 * The memory behind a whole {@link IovaDomain}: byte {@code x} of {@link #segment()} is IOVA
 * {@code x}, for bounce pages and coherent allocations alike, as the kernel's
 * {@code [vduse-domain]} file is a view of the domain's whole IOVA space. So the file offset of
 * every IOTLB entry equals its IOVA.
 *
 * <p>Pluggable because this module has no native code: {@link ArenaDomainMemory} serves tests
 * and pure-Java use ({@link #fd()} is -1), and the core supplies a memfd-backed implementation
 * so that the simulated kernel can hand the device a real file descriptor from
 * {@code VDUSE_IOTLB_GET_FD}, which the device then maps with {@code mmap} exactly as it would
 * map the kernel's file.
 */
public interface DomainMemory extends AutoCloseable {

    /** The whole domain, {@code IovaDomain.size()} bytes, readable and writable. */
    MemorySegment segment();

    /**
     * The file descriptor whose offset {@code x} holds IOVA {@code x}, for {@code mmap}, or -1
     * when the memory has no file. Stays owned by this object: whoever hands it out dups it.
     */
    int fd();

    /** Releases the memory; the segment is unusable afterwards. Idempotent. */
    @Override
    void close();

    /** Makes the memory of a new domain. */
    @FunctionalInterface
    interface Factory {

        /**
         * Creates zeroed memory of {@code size} bytes, {@code size} a multiple of
         * {@link IovaDomain#PAGE_SIZE}, with a segment aligned to the page size.
         */
        DomainMemory create(long size);
    }
}
