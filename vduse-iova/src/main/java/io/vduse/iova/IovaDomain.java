package io.vduse.iova;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The kernel side of a VDUSE device's IOVA space, modelled on
 * {@code drivers/vdpa/vdpa_user/iova_domain.c}: how the (simulated) kernel hands out device
 * addresses for the driver's buffers, and what {@code VDUSE_IOTLB_GET_FD} reports.
 *
 * <pre>
 * IOVA 0          bounceSize                      bounceSize + coherentSize
 * | bounce region  | coherent allocations           |
 * | (streaming DMA)|                                |
 * </pre>
 *
 * <ul>
 *   <li><b>Streaming DMA</b> ({@link #mapPage}): the driver's buffer is not shared with the
 *       device; it gets an IOVA in the bounce region, and its data is copied into the bounce
 *       page on map (driver to device) and back on unmap (device to driver), as the direction
 *       says, and on explicit {@link #syncForDevice}/{@link #syncForCpu}. IOVA 0 is never handed
 *       out, as in the kernel, where 0 means failure.
 *   <li><b>Coherent DMA</b> ({@link #allocCoherent}): memory of the domain shared by driver and
 *       device (rings live here), above the bounce region.
 * </ul>
 *
 * <p>The IOTLB is an {@link IotlbTree}: the bounce region is one read-write entry
 * {@code [0, bounceSize - 1]} at file offset 0, added on the first {@link #mapPage} and dropped
 * by {@link #resetBounceMap}; each coherent allocation is one read-write entry whose file offset
 * is its IOVA. The backing memory is one {@link DomainMemory} covering the whole space.
 *
 * <h2>User bounce pages</h2>
 * {@link #addUserBouncePages} is {@code vduse_domain_add_user_bounce_pages}, what
 * {@code VDUSE_IOTLB_REG_UMEM} does to the domain: from then on every bounce copy goes to and from
 * the device's own pages instead of the domain's, and the pages in use by a live streaming
 * mapping at that moment are copied from the domain's pages into the device's, whole pages, the
 * others not. {@link #removeUserBouncePages} ({@code VDUSE_IOTLB_DEREG_UMEM}, or the device file's
 * release) copies the pages then in use back and bounces through the domain's pages again. The
 * IOTLB entry of the bounce region stays as it was: {@code VDUSE_IOTLB_GET_FD} still names the
 * domain's file for it. The kernel then answers a new fault on that file's bounce range with
 * SIGBUS and leaves pages a device had mapped before as they were, no longer read or written by
 * any bounce; so that a device still using such a mapping sees wrong data rather than plausible
 * stale data, the model fills the domain's bounce pages with {@link #STALE_BOUNCE_BYTE} when the
 * user pages come.
 *
 * <p>Thread-safe: one lock serializes every operation, copies included, like the kernel's
 * domain locks.
 */
public final class IovaDomain implements AutoCloseable {

    /** The page size of the model, the granule of IOVA allocation: 4 KiB, as on x86-64. */
    public static final long PAGE_SIZE = 4096;

    /**
     * What the domain's own bounce pages hold while user bounce pages replace them: a device that
     * still reads them through a mapping of the domain's file reads this.
     */
    public static final byte STALE_BOUNCE_BYTE = (byte) 0xdb;

    /** Payload of an IOTLB entry: the file behind it, where, and with which permission. */
    private record DomainFile(DomainMemory memory, long offset, Access access) {}

    /** A live streaming mapping: the driver's buffer and how it was mapped. */
    private record Stream(long iova, MemorySegment original, DmaDirection direction) {
        long size() {
            return original.byteSize();
        }
    }

    private final long bounceSize;
    private final long size;
    private final DomainMemory memory;
    private final MemorySegment bytes;
    private final IovaAllocator streamIovas;
    private final IovaAllocator coherentIovas;
    private final IotlbTree<DomainFile> iotlb = new IotlbTree<>();
    private final NavigableMap<Long, Stream> streams = new TreeMap<>(Long::compareUnsigned);
    private boolean bounceMapped;
    /** The device's pages that replace the bounce region's, or null. */
    private MemorySegment userPages;
    private boolean closed;

    /**
     * Creates a domain on memory from {@code memoryFactory}.
     *
     * @param bounceSize bytes of the bounce region: a multiple of {@link #PAGE_SIZE}, at least
     *     two pages (page 0 is never handed out); {@code Vduse.DEFAULT_BOUNCE_SIZE} by default
     * @param coherentSize bytes for coherent allocations above it: a positive multiple of
     *     {@link #PAGE_SIZE}; {@code Vduse.COHERENT_SIZE} in the kernel
     * @param memoryFactory makes the memory of the whole {@code bounceSize + coherentSize} bytes
     * @throws IllegalArgumentException for sizes that break these rules, or memory of the wrong
     *     size
     */
    public IovaDomain(long bounceSize, long coherentSize, DomainMemory.Factory memoryFactory) {
        Objects.requireNonNull(memoryFactory, "memoryFactory");
        if (bounceSize < 2 * PAGE_SIZE || bounceSize % PAGE_SIZE != 0) {
            throw new IllegalArgumentException(
                    "bounce size %d is not a multiple of %d of at least two pages".formatted(bounceSize, PAGE_SIZE));
        }
        if (coherentSize <= 0 || coherentSize % PAGE_SIZE != 0
                || coherentSize > Long.MAX_VALUE - bounceSize) {
            throw new IllegalArgumentException(
                    "coherent size %d is not a positive multiple of %d".formatted(coherentSize, PAGE_SIZE));
        }
        this.bounceSize = bounceSize;
        this.size = bounceSize + coherentSize;
        this.memory = memoryFactory.create(size);
        this.bytes = memory.segment();
        if (bytes.byteSize() != size || bytes.isReadOnly()) {
            memory.close();
            throw new IllegalArgumentException("domain memory of %d bytes%s, %d writable bytes needed"
                    .formatted(bytes.byteSize(), bytes.isReadOnly() ? " (read-only)" : "", size));
        }
        this.streamIovas = new IovaAllocator(PAGE_SIZE, bounceSize - 1);
        this.coherentIovas = new IovaAllocator(bounceSize, size - 1);
    }

    /** Creates a domain on {@link ArenaDomainMemory}. */
    public IovaDomain(long bounceSize, long coherentSize) {
        this(bounceSize, coherentSize, ArenaDomainMemory::new);
    }

    /** Bytes of the bounce region, which starts at IOVA 0. */
    public long bounceSize() {
        return bounceSize;
    }

    /** Bytes of the whole IOVA space: the bounce region plus the coherent one. */
    public long size() {
        return size;
    }

    /** The memory of the whole space; byte {@code x} is IOVA {@code x}. */
    public DomainMemory memory() {
        return memory;
    }

    /**
     * Maps the driver's buffer {@code original} for streaming DMA and returns its IOVA, page
     * aligned. Copies the buffer into the bounce page if {@code direction} sends data to the
     * device.
     *
     * @throws IllegalArgumentException if the buffer is empty, or read-only while the device is
     *     to write it
     * @throws IovaExhaustedException if the bounce region has no room (the kernel's
     *     {@code DMA_MAPPING_ERROR})
     */
    public synchronized long mapPage(MemorySegment original, DmaDirection direction) {
        Objects.requireNonNull(original, "original");
        Objects.requireNonNull(direction, "direction");
        checkOpen();
        long length = original.byteSize();
        if (length == 0) {
            throw new IllegalArgumentException("DMA mapping of an empty buffer");
        }
        if (original.isReadOnly() && direction.copiesFromDevice()) {
            throw new IllegalArgumentException("read-only buffer mapped " + direction);
        }
        if (length > bounceSize) {
            throw new IovaExhaustedException(length, PAGE_SIZE, PAGE_SIZE, bounceSize - 1);
        }
        long iova = streamIovas.allocate(pageAlign(length), PAGE_SIZE);
        if (!bounceMapped) {
            iotlb.insert(0, bounceSize - 1, new DomainFile(memory, 0, Access.READ_WRITE));
            bounceMapped = true;
        }
        streams.put(iova, new Stream(iova, original, direction));
        if (direction.copiesToDevice()) {
            MemorySegment.copy(original, 0, bouncePages(), iova, length);
        }
        return iova;
    }

    /**
     * Ends the streaming mapping at {@code iova}: copies the bounce page back into the driver's
     * buffer if {@code direction} brings data from the device, and frees the IOVA.
     *
     * @throws IllegalArgumentException if no mapping of {@code size} bytes starts at
     *     {@code iova}, or it was mapped with another direction (DMA API misuse)
     */
    public synchronized void unmapPage(long iova, long size, DmaDirection direction) {
        Objects.requireNonNull(direction, "direction");
        checkOpen();
        Stream stream = streams.get(iova);
        if (stream == null || stream.size() != size) {
            throw new IllegalArgumentException("no streaming DMA mapping of %d bytes at IOVA 0x%x"
                    .formatted(size, iova));
        }
        if (stream.direction() != direction) {
            throw new IllegalArgumentException("IOVA 0x%x was mapped %s, unmapped %s"
                    .formatted(iova, stream.direction(), direction));
        }
        if (direction.copiesFromDevice()) {
            MemorySegment.copy(bouncePages(), iova, stream.original(), 0, size);
        }
        streams.remove(iova);
        streamIovas.free(iova);
    }

    /**
     * Hands {@code [iova, iova + size)} of a streaming mapping back to the device after the
     * driver wrote its buffer: copies it into the bounce page if {@code direction} sends data to
     * the device. A coherent address needs no sync and is left alone.
     *
     * @throws IllegalArgumentException if the range is empty or not inside one streaming mapping
     */
    public synchronized void syncForDevice(long iova, long size, DmaDirection direction) {
        Objects.requireNonNull(direction, "direction");
        checkOpen();
        Stream stream = streamHolding(iova, size);
        if (stream != null && direction.copiesToDevice()) {
            MemorySegment.copy(stream.original(), iova - stream.iova(), bouncePages(), iova, size);
        }
    }

    /**
     * Hands {@code [iova, iova + size)} of a streaming mapping to the driver after the device
     * wrote it: copies the bounce page back into the buffer if {@code direction} brings data
     * from the device. A coherent address needs no sync and is left alone.
     *
     * @throws IllegalArgumentException if the range is empty or not inside one streaming mapping
     */
    public synchronized void syncForCpu(long iova, long size, DmaDirection direction) {
        Objects.requireNonNull(direction, "direction");
        checkOpen();
        Stream stream = streamHolding(iova, size);
        if (stream != null && direction.copiesFromDevice()) {
            MemorySegment.copy(bouncePages(), iova, stream.original(), iova - stream.iova(), size);
        }
    }

    /**
     * Allocates {@code size} bytes of zeroed coherent memory and maps it read-write at an IOVA
     * above the bounce region, file offset equal to the IOVA.
     *
     * @throws IllegalArgumentException if {@code size} is not positive
     * @throws IovaExhaustedException if the coherent region has no room
     */
    public synchronized CoherentBuffer allocCoherent(long size) {
        checkOpen();
        if (size <= 0) {
            throw new IllegalArgumentException("coherent allocation of %d bytes".formatted(size));
        }
        if (size > this.size - bounceSize) {
            throw new IovaExhaustedException(size, PAGE_SIZE, bounceSize, this.size - 1);
        }
        long iova = coherentIovas.allocate(pageAlign(size), PAGE_SIZE);
        MemorySegment buffer = bytes.asSlice(iova, size);
        // The kernel's dma_alloc_coherent returns zeroed memory; a reused range must not leak
        // what the previous owner left in it.
        buffer.fill((byte) 0);
        iotlb.insert(iova, iova + size - 1, new DomainFile(memory, iova, Access.READ_WRITE));
        return new CoherentBuffer(iova, buffer);
    }

    /**
     * Frees a coherent allocation and unmaps it from the IOTLB.
     *
     * @throws IllegalArgumentException if no coherent allocation of {@code size} bytes starts
     *     at {@code iova}
     */
    public synchronized void freeCoherent(long iova, long size) {
        checkOpen();
        Optional<IotlbTree.Entry<DomainFile>> entry = iotlb.find(iova);
        boolean coherent = size > 0
                && Long.compareUnsigned(iova, bounceSize) >= 0
                && entry.isPresent()
                && entry.get().start() == iova
                && entry.get().last() == iova + size - 1;
        if (!coherent) {
            throw new IllegalArgumentException("no coherent allocation of %d bytes at IOVA 0x%x"
                    .formatted(size, iova));
        }
        iotlb.removeOverlapping(iova, iova);
        coherentIovas.free(iova);
    }

    /** Frees {@code buffer}, as {@link #freeCoherent(long, long)}. */
    public void freeCoherent(CoherentBuffer buffer) {
        freeCoherent(buffer.iova(), buffer.size());
    }

    /**
     * Drops the bounce region's IOTLB entry, as the kernel does when the device resets; the next
     * {@link #mapPage} adds it again. Streaming mappings still live keep their IOVAs and bounce
     * pages, as in the kernel. Returns whether there was an entry to drop: if so, a device that
     * cached it must be told ({@code VDUSE_UPDATE_IOTLB} for {@code [0, bounceSize - 1]}).
     */
    public synchronized boolean resetBounceMap() {
        checkOpen();
        if (!bounceMapped) {
            return false;
        }
        iotlb.removeOverlapping(0, bounceSize - 1);
        bounceMapped = false;
        return true;
    }

    /**
     * Whether the bounce region is in the IOTLB: from the first {@link #mapPage} to the next
     * {@link #resetBounceMap}. The kernel takes user bounce pages only then.
     */
    public synchronized boolean bounceMapped() {
        checkOpen();
        return bounceMapped;
    }

    /**
     * Replaces the bounce region's pages with {@code pages}, the device's memory of exactly
     * {@link #bounceSize()} bytes ({@code vduse_domain_add_user_bounce_pages}): every page a live
     * streaming mapping uses is copied into it first, whole; from then on every bounce copy goes
     * there; the domain's own bounce pages are filled with {@link #STALE_BOUNCE_BYTE}.
     *
     * @throws IllegalArgumentException if {@code pages} is not of the bounce size or is read-only
     *     (the kernel's {@code EINVAL}, and the write pin it needs)
     * @throws IllegalStateException if user pages are in place already (the kernel's {@code EEXIST})
     */
    public synchronized void addUserBouncePages(MemorySegment pages) {
        Objects.requireNonNull(pages, "pages");
        checkOpen();
        if (pages.byteSize() != bounceSize || pages.isReadOnly()) {
            throw new IllegalArgumentException("user bounce pages of %d bytes%s, %d writable bytes needed"
                    .formatted(pages.byteSize(), pages.isReadOnly() ? " (read-only)" : "", bounceSize));
        }
        if (userPages != null) {
            throw new IllegalStateException("user bounce pages are in place already");
        }
        copyPagesInUse(bytes, pages);
        bytes.asSlice(0, bounceSize).fill(STALE_BOUNCE_BYTE);
        userPages = pages;
    }

    /**
     * Goes back to the domain's own bounce pages ({@code vduse_domain_remove_user_bounce_pages}):
     * the pages live streaming mappings use are copied from the user pages first, whole.
     *
     * @return whether there were user pages to remove
     */
    public synchronized boolean removeUserBouncePages() {
        checkOpen();
        if (userPages == null) {
            return false;
        }
        copyPagesInUse(userPages, bytes);
        userPages = null;
        return true;
    }

    /** Whether user bounce pages replace the domain's ({@link #addUserBouncePages}). */
    public synchronized boolean hasUserBouncePages() {
        return userPages != null;
    }

    /**
     * The first IOTLB entry overlapping {@code [start, last]}: what {@code VDUSE_IOTLB_GET_FD}
     * answers for a {@code struct vduse_iotlb_entry} holding that range.
     *
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     */
    public synchronized Optional<DomainMapping> findMapping(long start, long last) {
        checkOpen();
        return iotlb.first(start, last).map(e ->
                new DomainMapping(e.start(), e.last(), e.value().offset(), e.value().access(), e.value().memory()));
    }

    /**
     * A {@link MappingSource} that translates through this domain in-process, without a file
     * descriptor or {@code mmap}: each mapping is a slice of the domain memory. For tests and
     * pure-Java devices. Its mappings stay readable after invalidation (they are views of memory
     * that lives as long as the domain), so a racing stale access sees old data rather than an
     * {@link IllegalStateException}; release does nothing.
     */
    public MappingSource mappingSource() {
        return new DomainMappingSource(this);
    }

    /** The number of live streaming mappings. */
    public synchronized int streamingMappings() {
        return streams.size();
    }

    /** Releases the domain memory; every later operation fails with IllegalStateException. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            memory.close();
        }
    }

    /** Where bounce copies go: the user pages if there are any, else the domain's. */
    private MemorySegment bouncePages() {
        return userPages != null ? userPages : bytes;
    }

    /** Copies every page of the bounce region a live streaming mapping uses from {@code from} to {@code to}. */
    private void copyPagesInUse(MemorySegment from, MemorySegment to) {
        long copiedUpTo = 0; // streams are sorted and disjoint; a page is copied once
        for (Stream s : streams.values()) {
            long first = Math.max(s.iova(), copiedUpTo);
            long end = s.iova() + pageAlign(s.size());
            if (first < end) {
                MemorySegment.copy(from, first, to, first, end - first);
                copiedUpTo = end;
            }
        }
    }

    private Stream streamHolding(long iova, long size) {
        if (Long.compareUnsigned(iova, bounceSize) >= 0) {
            return null;
        }
        if (size <= 0) {
            throw new IllegalArgumentException("DMA sync of %d bytes at IOVA 0x%x".formatted(size, iova));
        }
        Map.Entry<Long, Stream> floor = streams.floorEntry(iova);
        Stream stream = floor == null ? null : floor.getValue();
        if (stream == null || iova - stream.iova() > stream.size() - size) {
            throw new IllegalArgumentException("[0x%x, +%d) is not inside one streaming DMA mapping"
                    .formatted(iova, size));
        }
        return stream;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("IOVA domain closed");
        }
    }

    private static long pageAlign(long length) {
        return (length + PAGE_SIZE - 1) & -PAGE_SIZE;
    }
}
