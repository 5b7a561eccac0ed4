package io.vduse.blk;

import java.util.Locale;

/**
 * How a {@link VirtioBlkDevice} serves each queue's requests ({@code --aio}, with
 * qemu-storage-daemon's names and meaning).
 */
public enum BlkAio {
    /**
     * One at a time on the queue's own thread: fastest where the backend never waits (memory, a
     * file in the page cache), slowest where it does.
     */
    SYNC,
    /** {@link BlkOptions#ioThreads()} at once per queue, each on an I/O thread of the queue's. */
    THREADS,
    /**
     * Through an io_uring per queue: every request of the queue in flight at once, submitted in one
     * system call per pass over the ring and completed on the queue's thread, with no thread of
     * its own. For a file or block device; a backend in memory is served {@link #SYNC}, and a file
     * in memory (tmpfs, ramfs, where io_uring would hand every request to a kernel worker thread)
     * {@link #THREADS} with its small requests on the queue's thread
     * ({@link VirtioBlkDevice#inlineLimit()}). Where the kernel refuses io_uring (none,
     * {@code kernel.io_uring_disabled}, a seccomp filter) the device serves {@link #THREADS}
     * instead and says why ({@link VirtioBlkDevice#aio()}).
     */
    IO_URING;

    /** The command-line name: {@code sync}, {@code threads}, {@code io_uring}. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The engine named {@code name} on the command line, or null for none. */
    public static BlkAio ofCliName(String name) {
        for (BlkAio aio : values()) {
            if (aio.cliName().equals(name)) {
                return aio;
            }
        }
        return null;
    }
}
