package io.vduse.it.vhost;

import io.vduse.core.ErrnoException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The client's own memory, which the device reads and writes: a memfd mapped shared. It has to be
 * a shared file mapping: vhost-vdpa maps a VDUSE device by virtual address ({@code use_va}) and
 * hands VDUSE the file behind each VMA (drivers/vhost/vdpa.c, vhost_vdpa_va_map, which silently
 * skips anonymous memory); the device then maps that file itself ({@code VDUSE_IOTLB_GET_FD}).
 * Every view is a separate mmap of the same pages, so an IOTLB update can move a range to another
 * virtual address over the same data.
 */
public final class ClientMemory implements AutoCloseable {

    private final int fd;
    private final long size;
    private final List<MemorySegment> views = new ArrayList<>();

    /** A memfd of {@code size} bytes (zeroed), mapped once. */
    public ClientMemory(String name, long size) throws ErrnoException {
        this.fd = Libc.memfdCreate(name, size);
        this.size = size;
        views.add(Libc.mmapShared(fd, size));
    }

    /** The first mapping; its {@code address()} is the uaddr of offset 0. */
    public MemorySegment memory() {
        return views.getFirst();
    }

    /** Another mapping of the same pages, at another virtual address. */
    public MemorySegment newView() throws ErrnoException {
        MemorySegment view = Libc.mmapShared(fd, size);
        views.add(view);
        return view;
    }

    @Override
    public void close() throws ErrnoException {
        for (MemorySegment view : views) {
            Libc.munmap(view);
        }
        Libc.close(fd);
    }
}
