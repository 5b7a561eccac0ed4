package io.vduse.core.internal;

import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseIotlbEntry;
import io.vduse.api.VduseIotlbEntryV2;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.internal.events.IotlbMap;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.iova.Access;
import io.vduse.iova.Mapping;
import io.vduse.iova.MappingSource;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Resolves IOTLB misses of one address space the way a VDUSE device must:
 * {@code VDUSE_IOTLB_GET_FD} (or, from API v1 on, {@code VDUSE_IOTLB_GET_FD2} naming the address
 * space) for the entry holding the address, then {@code mmap} of that file at the entry's offset
 * with the entry's permission. Each mapping lives in its own shared arena, so releasing it (on
 * {@code VDUSE_UPDATE_IOTLB}) unmaps it only after every thread has left its accesses: a racing
 * access fails with {@link IllegalStateException} instead of touching unmapped memory.
 */
public final class IotlbMappingSource implements MappingSource {

    private static final System.Logger LOG = System.getLogger(IotlbMappingSource.class.getName());

    private final VduseFile device;
    /** The device's name, for the {@code io.vduse.IotlbMap} events. */
    private final String deviceName;
    /** The address space looked up in; null for the API v0 call, which has none. */
    private final Integer asid;
    private final MemorySegment entry = Arena.ofAuto().allocate(VduseIotlbEntryV2.LAYOUT);
    private final Map<Mapping, Arena> arenas = new IdentityHashMap<>();

    /** A source asking {@code device} for its IOTLB entries with the API v0 call. */
    public IotlbMappingSource(VduseFile device) {
        this(device, "?");
    }

    /** The same, for the device named {@code deviceName}. */
    public IotlbMappingSource(VduseFile device, String deviceName) {
        this.device = device;
        this.deviceName = deviceName;
        this.asid = null;
    }

    /** A source asking {@code device}, named {@code deviceName}, for the entries of address space {@code asid} (API v1). */
    public IotlbMappingSource(VduseFile device, int asid, String deviceName) {
        this.device = device;
        this.deviceName = deviceName;
        this.asid = asid;
    }

    @Override
    public synchronized Optional<Mapping> resolve(long iova) {
        VduseIotlbEntry query = VduseIotlbEntry.query(iova, iova);
        int fd;
        try {
            if (asid == null) {
                query.writeTo(entry);
                fd = device.ioctl(VduseIoctls.IOTLB_GET_FD, entry);
            } else {
                new VduseIotlbEntryV2(query, asid).writeTo(entry);
                fd = device.ioctl(VduseIoctls.IOTLB_GET_FD2, entry);
            }
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EINVAL) {
                return Optional.empty(); // nothing is mapped there
            }
            throw new IllegalStateException("IOTLB lookup of IOVA 0x%x failed".formatted(iova), e);
        }
        // Both layouts begin with the v1 entry, which is all the answer carries.
        VduseIotlbEntry answer = VduseIotlbEntry.readFrom(entry);
        try {
            return Optional.of(map(fd, answer));
        } finally {
            closeQuietly(fd);
        }
    }

    @SuppressWarnings("restricted") // sizing an mmap result is what reinterpret is for
    private Mapping map(int fd, VduseIotlbEntry answer) {
        long length = answer.last() - answer.start() + 1;
        if (length <= 0) {
            throw new IllegalStateException("IOTLB entry too large to map: " + answer);
        }
        Access access = Access.ofVdusePerm(answer.perm());
        // A read-only entry is mapped without PROT_WRITE: the kernel may refuse a writable
        // mapping of it, and a stray write must fault in Java's checks, never in the mapping.
        int prot = access == Access.READ ? Syscalls.PROT_READ : Syscalls.PROT_READ | Syscalls.PROT_WRITE;
        MemorySegment address;
        try {
            address = Syscalls.mmap(length, prot, Syscalls.MAP_SHARED, fd, answer.offset());
        } catch (ErrnoException e) {
            throw new IllegalStateException("mmap of IOTLB entry " + answer + " failed", e);
        }
        Arena arena = Arena.ofShared();
        MemorySegment memory = address.reinterpret(length, arena, segment -> unmap(segment, length));
        Mapping mapping = new Mapping(answer.start(), answer.last(), access,
                access == Access.READ ? memory.asReadOnly() : memory);
        arenas.put(mapping, arena);
        IotlbMap event = new IotlbMap();
        if (event.shouldCommit()) {
            event.device = deviceName;
            event.asid = asid == null ? 0 : asid;
            event.start = answer.start();
            event.last = answer.last();
            event.size = length;
            event.offset = answer.offset();
            event.perm = switch (access) {
                case READ -> "RO";
                case WRITE -> "WO";
                case READ_WRITE -> "RW";
            };
            event.commit();
        }
        return mapping;
    }

    @Override
    public void release(Mapping mapping) {
        Arena arena;
        synchronized (this) {
            arena = arenas.remove(mapping);
        }
        // Outside the lock: closing a shared arena waits for every thread to leave its accesses,
        // and a queue thread's miss (resolve) must not wait for that.
        if (arena != null) {
            arena.close();
        }
    }

    /** Unmaps everything still mapped. */
    public synchronized void releaseAll() {
        arenas.values().forEach(Arena::close);
        arenas.clear();
    }

    private static void unmap(MemorySegment segment, long length) {
        try {
            Syscalls.munmap(segment, length);
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "munmap of an IOTLB mapping failed", e);
        }
    }

    private static void closeQuietly(int fd) {
        try {
            Syscalls.close(fd);
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "close of an IOTLB file failed", e);
        }
    }

    @Override
    public String toString() {
        return asid == null ? "IOTLB of " + device : "IOTLB of " + device + ", address space " + asid;
    }
}
