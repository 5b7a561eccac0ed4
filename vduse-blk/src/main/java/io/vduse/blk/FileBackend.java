package io.vduse.blk;

import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.virtqueue.IoVectors;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A block backend on a regular file or a block device, through positional system calls
 * ({@code pread}/{@code pwrite}), so that queues share one descriptor without a lock.
 *
 * <ul>
 *   <li>FLUSH is {@code fdatasync(2)}.
 *   <li>DISCARD punches a hole ({@code fallocate(PUNCH_HOLE | KEEP_SIZE)}); where the file system
 *       cannot, it does nothing, which discard allows.
 *   <li>WRITE_ZEROES with the unmap flag punches a hole too; without it, or where holes are not
 *       supported, it tries {@code ZERO_RANGE}, then a hole followed by an allocation, and at last
 *       writes zeros.
 *   <li>A short transfer (a system call moves at most 2 GiB - 4 KiB, and a signal may cut one
 *       short) is resumed where it stopped; moving nothing is an error (the end of the file).
 *   <li>With {@code O_DIRECT} the page cache is bypassed; the device's buffers are page aligned
 *       and its requests block aligned, which is what the kernel asks for (a logical block size
 *       below the medium's own makes such requests fail with {@code EINVAL}, as IOERR).
 * </ul>
 */
public final class FileBackend implements BlockBackend {

    /** How much zeros one {@code pwrite} writes when {@code fallocate} cannot zero. */
    private static final long ZERO_CHUNK = 1 << 20;

    private final Path path;
    private final int fd;
    private final boolean direct;
    private final boolean regularFile;
    private final Arena arena = Arena.ofShared();
    // Never written after allocation, so every thread may pwrite from it at once.
    private final MemorySegment zeros;
    private volatile long size;
    /** With O_DIRECT: what vector pieces and file offsets must be aligned to (offsets: 0 when not known). */
    private final long directVectorAlignment;
    private final long directOffsetAlignment;

    private FileBackend(Path path, int fd, boolean direct, boolean regularFile, long size) {
        this.path = path;
        this.fd = fd;
        this.direct = direct;
        long[] alignment = null;
        if (direct) {
            try {
                alignment = Syscalls.directIoAlignment(fd);
            } catch (ErrnoException e) {
                alignment = null; // not said: the defaults below
            }
        }
        // A vector's pieces need both: the address aligned for DMA, and the length a whole number
        // of the disk's logical blocks (Linux checks every segment). Not said: a page, as before.
        this.directVectorAlignment = alignment == null ? BUFFER_ALIGNMENT : Math.max(alignment[0], alignment[1]);
        this.directOffsetAlignment = alignment == null ? 0 : alignment[1];
        this.regularFile = regularFile;
        this.zeros = arena.allocate(ZERO_CHUNK, BUFFER_ALIGNMENT);
        this.size = size;
    }

    /**
     * Opens {@code path}, creating it or growing it to {@code sizeAtLeast} first when that is
     * positive (regular files only).
     *
     * @param readOnly open for reading only
     * @param direct bypass the page cache ({@code O_DIRECT})
     * @param sizeAtLeast 0 to take the medium as it is; else the size to create or grow to
     * @throws IOException naming the path and what failed: a missing file without a size, a
     *     size on a block device, a file larger than asked for, or the failed system call
     */
    public static FileBackend open(Path path, boolean readOnly, boolean direct, long sizeAtLeast) throws IOException {
        boolean exists = Files.exists(path);
        boolean regular = !exists || Files.isRegularFile(path);
        if (!exists && sizeAtLeast <= 0) {
            throw new IOException(path + " does not exist: give a size to create it");
        }
        if (exists && !regular && sizeAtLeast > 0) {
            throw new IOException(path + " is not a regular file: its size cannot be set");
        }
        if (!exists && readOnly) {
            throw new IOException(path + " does not exist, and a read-only device cannot create it");
        }
        int flags = (readOnly ? Syscalls.O_RDONLY : Syscalls.O_RDWR) | Syscalls.O_CLOEXEC
                | (exists ? 0 : Syscalls.O_CREAT | Syscalls.O_EXCL);
        int fd = Syscalls.open(path.toString(), flags, 0644);
        try {
            long size = Syscalls.size(fd);
            if (sizeAtLeast > 0 && size > sizeAtLeast) {
                throw new IOException("%s is %d bytes, larger than the %d asked for; refusing to shrink it"
                        .formatted(path, size, sizeAtLeast));
            }
            if (sizeAtLeast > size) {
                Syscalls.ftruncate(fd, sizeAtLeast);
                size = sizeAtLeast;
            }
            if (direct) {
                // O_DIRECT is asked for on a second descriptor: the first may have created the
                // file, and some file systems refuse O_DIRECT (EINVAL) only at open.
                int directFd = openDirect(path, readOnly);
                Syscalls.close(fd);
                fd = directFd;
            }
            return new FileBackend(path, fd, direct, regular, size);
        } catch (IOException | RuntimeException e) {
            try {
                Syscalls.close(fd);
            } catch (ErrnoException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private static int openDirect(Path path, boolean readOnly) throws IOException {
        try {
            return Syscalls.open(path.toString(),
                    (readOnly ? Syscalls.O_RDONLY : Syscalls.O_RDWR) | Syscalls.O_CLOEXEC | Syscalls.O_DIRECT, 0);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EINVAL) {
                throw new IOException("the file system of " + path + " does not support O_DIRECT (--direct)", e);
            }
            throw e;
        }
    }

    /**
     * With {@code O_DIRECT}, the alignment in bytes that every offset and length must have (the
     * logical block size of the disk beneath, as {@code statx(2)} tells it); the device's logical
     * block size must be a multiple of it. 0 without {@code O_DIRECT}, or where the kernel does
     * not say (before Linux 6.1).
     */
    public long directAlignment() {
        return directOffsetAlignment;
    }

    /**
     * Whether the file's bytes live in memory (a regular file on tmpfs or ramfs, without
     * {@code O_DIRECT}): every read and write is a copy that never waits, which io_uring cannot
     * start without handing it to a worker thread (these file systems take no {@code IOCB_NOWAIT}
     * reads), so the queue's own thread does it faster.
     */
    boolean inMemory() {
        if (!regularFile || direct) {
            return false;
        }
        try {
            long type = Syscalls.fileSystemType(fd);
            return type == Syscalls.TMPFS_MAGIC || type == Syscalls.RAMFS_MAGIC;
        } catch (ErrnoException e) {
            return false; // unknown: nothing is assumed
        }
    }

    /** The open file descriptor, for an engine that submits the I/O itself ({@link UringQueueHandler}). */
    int fd() {
        return fd;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public long refreshSize() throws IOException {
        long now = Syscalls.size(fd);
        size = now;
        return now;
    }

    @Override
    public void read(long offset, MemorySegment buffer, long length) throws IOException {
        long done = 0;
        while (done < length) {
            long n = Syscalls.pread(fd, rest(buffer, done), length - done, offset + done);
            if (n == 0) {
                throw new IOException("%s: end of file at %d while reading %d bytes at %d (did it shrink?)"
                        .formatted(path, offset + done, length, offset));
            }
            done += n;
        }
    }

    @Override
    public void write(long offset, MemorySegment buffer, long length) throws IOException {
        long done = 0;
        while (done < length) {
            long n = Syscalls.pwrite(fd, rest(buffer, done), length - done, offset + done);
            if (n == 0) {
                throw new IOException("%s: wrote nothing at %d".formatted(path, offset + done));
            }
            done += n;
        }
    }

    /** Any alignment, or with {@code O_DIRECT} the buffer alignment that the kernel asks for. */
    @Override
    public long vectorAlignment() {
        return direct ? directVectorAlignment : 1;
    }

    @Override
    public void readVectors(long offset, IoVectors vectors) throws IOException {
        long length = vectors.totalLength();
        for (long done = 0; done < length; ) {
            long n = Syscalls.preadv(fd, vectors.array(), vectors.count(), offset + done);
            if (n == 0) {
                throw new IOException("%s: end of file at %d while reading %d bytes at %d (did it shrink?)"
                        .formatted(path, offset + done, length, offset));
            }
            done += n;
            if (done < length) {
                vectors.consume(n);
            }
        }
    }

    @Override
    public void writeVectors(long offset, IoVectors vectors) throws IOException {
        long length = vectors.totalLength();
        for (long done = 0; done < length; ) {
            long n = Syscalls.pwritev(fd, vectors.array(), vectors.count(), offset + done);
            if (n == 0) {
                throw new IOException("%s: wrote nothing at %d".formatted(path, offset + done));
            }
            done += n;
            if (done < length) {
                vectors.consume(n);
            }
        }
    }

    /** The buffer from {@code done} on; the whole buffer (no slice object) in the usual single pass. */
    private static MemorySegment rest(MemorySegment buffer, long done) {
        return done == 0 ? buffer : buffer.asSlice(done);
    }

    @Override
    public void flush() throws IOException {
        Syscalls.fdatasync(fd);
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        zero(ZeroingStep.DISCARD, offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        zero(ZeroingStep.first(true, unmap), offset, length);
    }

    /** Climbs the {@link ZeroingStep} ladder for one range, from {@code step}. */
    private void zero(ZeroingStep step, long offset, long length) throws IOException {
        while (step.isCall()) {
            int errno = 0;
            try {
                Syscalls.fallocate(fd, step.mode(), offset, length);
            } catch (ErrnoException e) {
                errno = e.errno();
            }
            ZeroingStep next = step.next(errno);
            if (next == null) {
                throw new ErrnoException("fallocate", errno);
            }
            step = next;
        }
        if (step == ZeroingStep.WRITE) {
            writeZeros(offset, length);
        }
    }

    /**
     * Writes zeros over the range, for a file system where no {@code fallocate} zeroes; the
     * io_uring path comes here too, on the queue's thread (rare: ext4, xfs, btrfs and tmpfs all
     * zero without writing).
     */
    void writeZeros(long offset, long length) throws IOException {
        for (long done = 0; done < length; ) {
            long n = Math.min(ZERO_CHUNK, length - done);
            write(offset + done, zeros, n);
            done += n;
        }
    }

    @Override
    public synchronized void resize(long newSize) throws IOException {
        if (!regularFile) {
            throw new IOException(path + " is a block device: resize the device itself, then the size is read again");
        }
        Syscalls.ftruncate(fd, newSize);
        size = newSize;
    }

    @Override
    public String describe() {
        return (regularFile ? "file " : "block device ") + path + (direct ? " (O_DIRECT)" : "");
    }

    @Override
    public void close() throws IOException {
        try {
            Syscalls.close(fd);
        } finally {
            arena.close();
        }
    }
}
