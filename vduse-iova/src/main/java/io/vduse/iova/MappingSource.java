package io.vduse.iova;

import java.util.Optional;

/**
 * Where an {@link AddressSpace} gets the mappings it does not have cached, and gives them back.
 *
 * <p>Against the kernel (and the simulated kernel), {@link #resolve} is {@code VDUSE_IOTLB_GET_FD}
 * for {@code [iova, iova]} followed by {@code mmap} of the returned fd at the entry's offset, with
 * {@code PROT_READ} and/or {@code PROT_WRITE} as its permission says; {@link #release} is the
 * {@code munmap}.
 *
 * <p>Contract for memory that can go away: the segment of a mapping should belong to a shared
 * {@link java.lang.foreign.Arena} of its own, and {@link #release} must close that arena
 * <em>before</em> unmapping. Closing a shared arena waits until no thread is inside an access to
 * it, and any access after that throws {@link IllegalStateException}; so a queue thread still
 * holding a released mapping gets an exception, never a SIGSEGV from touching unmapped memory.
 * Only if {@code close()} returned normally may the memory be unmapped.
 *
 * <p>Calls are serialized by the address space (one at a time, never concurrently with each
 * other), on whichever thread missed or invalidated; the one exception is
 * {@link AddressSpace#release(Mapping)} of a retired mapping, which may run concurrently with a
 * {@link #resolve}.
 */
public interface MappingSource {

    /**
     * The mapping holding {@code iova}, or empty if nothing maps it. The mapping's range and
     * access are the IOTLB entry's, and its memory must be exactly the entry's size.
     */
    Optional<Mapping> resolve(long iova);

    /**
     * Gives back a mapping {@link #resolve} returned, once no new translation can find it; see
     * the class comment for the order of closing and unmapping. Called at most once per mapping.
     */
    void release(Mapping mapping);
}
