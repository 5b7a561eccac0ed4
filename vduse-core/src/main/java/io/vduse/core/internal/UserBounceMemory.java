package io.vduse.core.internal;

import io.vduse.api.Vduse;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseIovaInfo;
import io.vduse.api.VduseIovaUmem;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.iova.Access;
import io.vduse.iova.AddressSpace;
import io.vduse.iova.Mapping;
import io.vduse.iova.MappingSource;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * The device's own memory as the kernel's bounce buffer of one address space
 * ({@code VDUSE_IOTLB_REG_UMEM} / {@code VDUSE_IOTLB_DEREG_UMEM}), and the translation that goes
 * with it: a {@link MappingSource} in front of the IOTLB's that answers the bounce region from
 * that memory while it is registered.
 *
 * <p>What the kernel does (Linux 6.12 and 7.3, {@code drivers/vdpa/vdpa_user/vduse_dev.c} and
 * {@code iova_domain.c}): it takes the memory only while the bounce region is in the IOTLB (from
 * the driver's first streaming DMA mapping to the next reset), only whole ({@code iova} 0, the
 * bounce size, a page-aligned address), and pins it against {@code RLIMIT_MEMLOCK}. On
 * registration it copies the bounce pages then in use into it; from then on it bounces through
 * it, and a new fault on the bounce range of the {@code [vduse-domain]} file is {@code SIGBUS},
 * while pages mapped from that file before stay mapped but are read and written by nobody. On
 * deregistration, and when the device file is released, it copies the pages in use back. A reset
 * leaves the registration in place.
 *
 * <p>So the switch ({@link #switchIfWanted}) runs with every queue of the address space held
 * (stopped, nothing in flight): register, answer the bounce region from the device memory from then on, and
 * drop the mapping of the file's bounce range, which no queue may touch again. It is wanted once
 * a miss finds the bounce region in the IOTLB ({@code VDUSE_IOTLB_GET_INFO} says
 * {@code VDUSE_IOVA_CAP_UMEM}), and happens on the message thread between messages.
 * {@link #deregister} runs at every reset: Linux 7.3 gives a device a new IOVA domain at each
 * {@code vdpa dev add} and would leave an old registration pinned and unused.
 *
 * <p>A refusal is logged once, with why, and the address space goes on with the kernel's bounce
 * pages for the rest of the device's life.
 */
public final class UserBounceMemory implements MappingSource {

    /** Holds the queues (stopped, their requests settled) while the switch runs: the device's quiescing, in one place. */
    @FunctionalInterface
    public interface Quiescer {
        /**
         * Runs {@code action} while no queue translating through this address space serves or
         * has a request in flight, and starts those queues again afterwards; may skip the action
         * when the queues cannot be held in time (the switch is then asked for again later).
         */
        void quiesced(Runnable action);
    }

    private static final System.Logger LOG = System.getLogger(UserBounceMemory.class.getName());
    private static final long MIB = 1 << 20;

    private final String deviceName;
    private final VduseFile file;
    private final int asid;
    private final MappingSource iotlb;
    private final Arena arguments = Arena.ofShared();
    /** GET_INFO's argument: used under the address space's lock (misses are serialized). */
    private final MemorySegment infoArgument = arguments.allocate(VduseIovaInfo.LAYOUT);
    /** REG/DEREG's argument: message thread only. */
    private final MemorySegment umemArgument = arguments.allocate(VduseIovaUmem.LAYOUT);
    private AddressSpace space;

    /** The bounce size a miss found the region at, to switch to; 0 when no switch is wanted. */
    private volatile long wanted;
    /** The registered memory as one read-write mapping of the bounce region, or null. */
    private volatile Mapping mapping;
    private volatile boolean refused;
    /** The device memory; kept from one registration to the next. Message thread only. */
    private Arena memoryArena;
    private MemorySegment memory;

    /**
     * Bounce memory for address space {@code asid} (0 below API v1, where the ioctls carry none)
     * of the device open as {@code file}, answering every other address from {@code iotlb}.
     */
    public UserBounceMemory(String deviceName, VduseFile file, int asid, MappingSource iotlb) {
        this.deviceName = deviceName;
        this.file = file;
        this.asid = asid;
        this.iotlb = Objects.requireNonNull(iotlb, "iotlb");
    }

    /** The address space this source feeds; set once, before any translation. */
    public void attach(AddressSpace addressSpace) {
        this.space = Objects.requireNonNull(addressSpace, "addressSpace");
    }

    /** Whether the kernel bounces through the device memory now. */
    public boolean inUse() {
        return mapping != null;
    }

    @Override
    public Optional<Mapping> resolve(long iova) {
        Mapping own = mapping;
        if (own != null && own.contains(iova)) {
            return Optional.of(own);
        }
        Optional<Mapping> found = iotlb.resolve(iova);
        if (found.isPresent() && found.get().start() == 0 && own == null && wanted == 0 && !refused) {
            wanted = bounceRegionSize();
        }
        return found;
    }

    @Override
    public void release(Mapping released) {
        if (released != mapping) {
            iotlb.release(released);
        }
        // The device memory itself stays until it is deregistered and the device closes.
    }

    /**
     * Switches the bounce region to the device memory if a miss found it and the kernel has not
     * refused before: on the message thread, between messages.
     */
    public void switchIfWanted(Quiescer quiescer) {
        long size = wanted;
        if (size == 0 || mapping != null || refused) {
            return;
        }
        wanted = 0;
        try {
            allocate(size);
            raiseMemlockLimit(size);
        } catch (ErrnoException e) {
            refuse(e, size);
            return;
        }
        quiescer.quiesced(() -> {
            new VduseIovaUmem(memory.address(), 0, size, asid).writeTo(umemArgument);
            try {
                file.ioctl(VduseIoctls.IOTLB_REG_UMEM, umemArgument);
            } catch (ErrnoException e) {
                refuse(e, size);
                return;
            }
            // From here on the kernel bounces through the device memory: the file's bounce pages
            // are dead. Every new translation of the region gets the device memory, and the
            // mapping of the file goes before any queue runs again.
            mapping = new Mapping(0, size - 1, Access.READ_WRITE, memory);
            space.invalidate(0, size - 1);
        });
        if (mapping == null && !refused) {
            wanted = size; // the queues could not be held (requests in flight): try again later
        }
        if (mapping != null) {
            LOG.log(Level.INFO, "{0}: the bounce buffer of address space {1} is the device''s own memory now "
                    + "({2} MiB, VDUSE_IOTLB_REG_UMEM)", deviceName, asid, Long.toString(size / MIB));
        }
    }

    /**
     * Gives the bounce region back to the kernel's own pages ({@code VDUSE_IOTLB_DEREG_UMEM}), at
     * a reset or before closing, with no queue running: the kernel copies the pages in use back.
     * A switch wanted by then is forgotten; the next driver's first miss wants one again.
     */
    public void deregister() {
        wanted = 0;
        Mapping own = mapping;
        if (own == null) {
            return;
        }
        mapping = null;
        space.invalidate(0, own.last());
        new VduseIovaUmem(memory.address(), 0, own.last() + 1, asid).writeTo(umemArgument);
        try {
            file.ioctl(VduseIoctls.IOTLB_DEREG_UMEM, umemArgument);
        } catch (ErrnoException e) {
            // The kernel deregisters at the release of the device file anyway.
            LOG.log(Level.WARNING, "{0}: giving the bounce buffer of address space {1} back failed: {2}",
                    deviceName, asid, e.getMessage());
        }
    }

    /** Deregisters, then frees the device memory; the device file closes after this. */
    public void close() {
        deregister();
        if (memoryArena != null) {
            memoryArena.close();
            memoryArena = null;
            memory = null;
        }
        arguments.close();
    }

    /** The bounce size if the entry at IOVA 0 is the whole bounce region ({@code VDUSE_IOVA_CAP_UMEM}), else 0. */
    private long bounceRegionSize() {
        new VduseIovaInfo(0, 0, 0, asid).writeTo(infoArgument);
        try {
            file.ioctl(VduseIoctls.IOTLB_GET_INFO, infoArgument);
        } catch (ErrnoException e) {
            return 0; // nothing there any more, or a kernel without the ioctl
        }
        VduseIovaInfo info = VduseIovaInfo.readFrom(infoArgument);
        return (info.capability() & Vduse.IOVA_CAP_UMEM) != 0 && info.start() == 0 ? info.last() + 1 : 0;
    }

    /** Anonymous memory of {@code size} bytes, kept for the next registration of the same size. */
    @SuppressWarnings("restricted") // sizing an mmap result is what reinterpret is for
    private void allocate(long size) throws ErrnoException {
        if (memory != null && memory.byteSize() == size) {
            return;
        }
        if (memoryArena != null) {
            memoryArena.close();
            memoryArena = null;
            memory = null;
        }
        MemorySegment address = Syscalls.mmapAnonymous(size);
        Arena arena = Arena.ofShared();
        MemorySegment segment = address.reinterpret(size, arena, s -> {
            try {
                Syscalls.munmap(s, size);
            } catch (ErrnoException e) {
                LOG.log(Level.WARNING, "munmap of user bounce memory failed", e);
            }
        });
        try {
            // Pinned pages and fork's copy-on-write do not mix: keep the memory out of children.
            Syscalls.madvise(segment, size, Syscalls.MADV_DONTFORK);
        } catch (ErrnoException e) {
            arena.close();
            throw e;
        }
        try {
            Syscalls.madvise(segment, size, Syscalls.MADV_HUGEPAGE); // fewer pages to fault and to map
        } catch (ErrnoException e) {
            LOG.log(Level.DEBUG, "MADV_HUGEPAGE refused for user bounce memory: {0}", e.getMessage());
        }
        memoryArena = arena;
        memory = segment;
    }

    /**
     * Raises this process's {@code RLIMIT_MEMLOCK} so that the kernel may pin {@code size} more
     * bytes (it counts them with what the process has pinned already, {@code VmPin}), if it is
     * lower and the process may; otherwise the registration answers {@code ENOMEM}.
     */
    private void raiseMemlockLimit(long size) throws ErrnoException {
        long[] limits = Syscalls.getrlimit(Syscalls.RLIMIT_MEMLOCK);
        long need = pinnedBytes() + size;
        if (Long.compareUnsigned(limits[0], need) >= 0) {
            return;
        }
        long hard = Long.compareUnsigned(limits[1], need) >= 0 ? limits[1] : need;
        try {
            Syscalls.setrlimit(Syscalls.RLIMIT_MEMLOCK, need, hard);
            LOG.log(Level.INFO, "{0}: RLIMIT_MEMLOCK raised from {1} to {2} bytes, to pin the bounce buffer",
                    deviceName, Long.toUnsignedString(limits[0]), Long.toString(need));
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EPERM) {
                throw e;
            }
            // Not allowed above the hard limit: the kernel will say ENOMEM, and refuse() says why.
        }
    }

    /** {@code VmPin} of {@code /proc/self/status}: what this process has pinned, in bytes; 0 if unknown. */
    private static long pinnedBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmPin:")) {
                    return Long.parseLong(line.substring(6).replace("kB", "").strip()) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "no VmPin in /proc/self/status: {0}", e.toString());
        }
        return 0;
    }

    private void refuse(ErrnoException e, long size) {
        refused = true;
        String why = switch (e.errno()) {
            case Errno.ENOMEM -> (": pinning %d MiB needs RLIMIT_MEMLOCK (ulimit -l) of at least that, above what the "
                    + "process pins already, or CAP_SYS_RESOURCE to raise it").formatted(size / MIB);
            case Errno.EINVAL -> ": the bounce region was gone (a reset) or of another size, or the kernel takes no "
                    + "user bounce memory";
            case Errno.EEXIST -> ": memory is registered for it already (a registration this process did not make)";
            default -> "";
        };
        LOG.log(Level.WARNING, "{0}: no user bounce memory for address space {1}: {2}{3}; the device goes on with "
                + "the kernel''s bounce pages", deviceName, asid, e.getMessage(), why);
    }

    @Override
    public String toString() {
        return "user bounce memory over " + iotlb;
    }
}
