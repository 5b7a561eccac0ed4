/**
 * IOVA space of a VDUSE device, from both sides.
 *
 * <h2>Kernel side: {@link io.vduse.iova.IovaDomain}</h2>
 * What the simulated kernel uses to hand out DMA addresses, after {@code iova_domain.c}: a
 * bounce region for streaming mappings ({@code mapPage}/{@code unmapPage}/{@code sync*}, data
 * copied by {@link io.vduse.iova.DmaDirection}) and coherent allocations above it, both in one
 * {@link io.vduse.iova.DomainMemory} whose byte {@code x} is IOVA {@code x}. Its IOTLB is an
 * {@link io.vduse.iova.IotlbTree}; {@link io.vduse.iova.IovaDomain#findMapping} answers
 * {@code VDUSE_IOTLB_GET_FD}. Building blocks: {@link io.vduse.iova.IotlbTree} (unsigned
 * interval map) and {@link io.vduse.iova.IovaAllocator} (aligned ranges in a window).
 *
 * <h2>Device side: {@link io.vduse.iova.AddressSpace}</h2>
 * The device's IOTLB cache, an {@link io.vduse.iova.IovaMemory}: lock-free, allocation-free
 * translation of cached mappings, misses through a {@link io.vduse.iova.MappingSource},
 * {@link io.vduse.iova.AddressSpace#invalidate} for {@code VDUSE_UPDATE_IOTLB}.
 *
 * <h2>What the native layer plugs in</h2>
 * <ul>
 *   <li><b>memfd domain memory</b>: a {@link io.vduse.iova.DomainMemory} that
 *       {@code memfd_create}s a file, {@code ftruncate}s it to the domain size, maps all of it
 *       {@code PROT_READ|PROT_WRITE, MAP_SHARED} and returns that mapping as
 *       {@code segment()} and the memfd as {@code fd()}; passed to {@code IovaDomain} as a
 *       {@link io.vduse.iova.DomainMemory.Factory}. The simulated {@code VDUSE_IOTLB_GET_FD}
 *       calls {@code findMapping(entry.start, entry.last)}, writes {@code start}, {@code last},
 *       {@code offset} and {@code access().vdusePerm()} back into the
 *       {@code struct vduse_iotlb_entry}, and returns a {@code dup} of {@code memory().fd()}
 *       (or {@code -EINVAL} when empty, as the kernel does).
 *   <li><b>GET_FD + mmap mapping source</b>: a {@link io.vduse.iova.MappingSource} whose
 *       {@code resolve(iova)} issues {@code VDUSE_IOTLB_GET_FD} for {@code [iova, iova]}, maps
 *       {@code last - start + 1} bytes of the fd at {@code offset} with {@code PROT_READ} for
 *       {@code RO}, {@code PROT_WRITE} for {@code WO}, both for {@code RW}, {@code MAP_SHARED},
 *       closes the fd, and wraps the address with
 *       {@code MemorySegment.ofAddress(addr).reinterpret(size, arena, s -> munmap(addr, size))}
 *       for a fresh {@code Arena.ofShared()}. {@code release} closes that arena: the close waits
 *       out racing accesses and makes later ones throw {@link java.lang.IllegalStateException},
 *       then the cleanup unmaps. Keep the arena per resolved {@link io.vduse.iova.Mapping}
 *       (by identity): the address space releases exactly the object {@code resolve} returned.
 *   <li>The message thread answers {@code VDUSE_UPDATE_IOTLB} with
 *       {@code addressSpace.invalidate(start, last)} before replying.
 * </ul>
 */
package io.vduse.iova;
