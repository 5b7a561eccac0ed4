package io.vduse.core.sim;

import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Syscalls;
import java.util.OptionalLong;

/**
 * What the simulated kernel counts of the memory {@code VDUSE_IOTLB_REG_UMEM} pinned, and the
 * limit it holds that to: the kernel's {@code mm->pinned_vm} and {@code RLIMIT_MEMLOCK} check in
 * {@code vduse_dev_reg_umem}, for the one process the simulated kernel serves (this JVM).
 */
final class PinnedMemory {

    private long pinned;
    /** A fixed limit in bytes, or empty for the process's own soft {@code RLIMIT_MEMLOCK}. */
    private OptionalLong limit = OptionalLong.empty();

    /** Bytes pinned now. */
    synchronized long pinned() {
        return pinned;
    }

    synchronized void limit(OptionalLong bytes) {
        limit = bytes;
    }

    /**
     * Pins {@code bytes} more, as {@code vduse_dev_reg_umem} does: refused with {@code ENOMEM}
     * when the pages pinned then would be more than the limit allows (the kernel counts pages; so
     * does this).
     */
    synchronized void pin(long bytes, String operation) throws ErrnoException {
        long page = Syscalls.pageSize();
        long limitPages = Long.divideUnsigned(currentLimit(), page);
        long pages = bytes / page + pinned / page;
        if (Long.compareUnsigned(pages, limitPages) > 0) {
            throw new ErrnoException("%s: %d bytes pinned and %d more asked, RLIMIT_MEMLOCK %s".formatted(operation,
                    pinned, bytes, Long.toUnsignedString(currentLimit())), Errno.ENOMEM);
        }
        pinned += bytes;
    }

    synchronized void unpin(long bytes) {
        pinned -= bytes;
    }

    private long currentLimit() throws ErrnoException {
        if (limit.isPresent()) {
            return limit.getAsLong();
        }
        return Syscalls.getrlimit(Syscalls.RLIMIT_MEMLOCK)[0]; // RLIM_INFINITY is the largest unsigned
    }
}
