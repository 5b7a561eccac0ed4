package io.vduse.core.internal;

import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.iova.DomainMemory;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Domain memory in a memfd, mapped shared: the simulated kernel hands its descriptor out from
 * {@code VDUSE_IOTLB_GET_FD}, and the device maps the same pages, as with the kernel's
 * {@code [vduse-domain]} file.
 */
public final class MemfdDomainMemory implements DomainMemory {

    private final int fd;
    private final Arena arena;
    private final MemorySegment segment;

    /** A factory of memfd memory, for {@code IovaDomain}. */
    public static final DomainMemory.Factory FACTORY = MemfdDomainMemory::new;

    @SuppressWarnings("restricted") // sizing an mmap result is what reinterpret is for
    private MemfdDomainMemory(long size) {
        try {
            fd = Syscalls.memfdCreate("[vduse-domain]", Syscalls.MFD_CLOEXEC);
            Syscalls.ftruncate(fd, size);
            MemorySegment address = Syscalls.mmap(size, Syscalls.PROT_READ | Syscalls.PROT_WRITE,
                    Syscalls.MAP_SHARED, fd, 0);
            arena = Arena.ofShared();
            segment = address.reinterpret(size, arena, s -> {
                try {
                    Syscalls.munmap(s, size);
                } catch (ErrnoException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (ErrnoException e) {
            throw new UncheckedIOException("memfd for a domain of " + size + " bytes", e);
        }
    }

    @Override
    public MemorySegment segment() {
        return segment;
    }

    @Override
    public int fd() {
        return fd;
    }

    @Override
    public void close() {
        arena.close();
        try {
            Syscalls.close(fd);
        } catch (ErrnoException e) {
            throw new UncheckedIOException(e);
        }
    }
}
