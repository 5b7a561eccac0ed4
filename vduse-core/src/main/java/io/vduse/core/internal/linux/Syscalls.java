package io.vduse.core.internal.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.vduse.api.Ioctl;
import io.vduse.core.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * The Linux system calls vduse-java makes, bound through the Foreign Function &amp; Memory API.
 *
 * <p>Each method calls one C library function (the man page is named), retries on
 * {@code EINTR} where the call may be interrupted by a signal, and throws {@link ErrnoException}
 * naming the operation and the errno when the call fails. Nothing here allocates on the Java heap
 * per call except the path strings of {@link #open} and {@link #memfdCreate}.
 */
public final class Syscalls {

    /** {@code O_RDONLY}. */
    public static final int O_RDONLY = 0;
    /** {@code O_WRONLY}. */
    public static final int O_WRONLY = 1;
    /** {@code O_RDWR}. */
    public static final int O_RDWR = 2;
    /** {@code O_CREAT}. */
    public static final int O_CREAT = 0x40;
    /** {@code O_EXCL}. */
    public static final int O_EXCL = 0x80;
    /** {@code O_NONBLOCK}. */
    public static final int O_NONBLOCK = 0x800;
    /** {@code O_CLOEXEC}. */
    public static final int O_CLOEXEC = 0x80000;
    /** {@code O_DIRECT}: its value differs between x86-64 and arm64. */
    public static final int O_DIRECT = "aarch64".equals(System.getProperty("os.arch")) ? 0x10000 : 0x4000;

    /** {@code PROT_READ}. */
    public static final int PROT_READ = 1;
    /** {@code PROT_WRITE}. */
    public static final int PROT_WRITE = 2;
    /** {@code MAP_SHARED}. */
    public static final int MAP_SHARED = 1;
    /** {@code MAP_PRIVATE}. */
    public static final int MAP_PRIVATE = 2;
    /** {@code MAP_ANONYMOUS}: memory with no file behind it. */
    public static final int MAP_ANONYMOUS = 0x20;
    /** {@code MAP_POPULATE}: fault the pages in now rather than on first touch. */
    public static final int MAP_POPULATE = 0x8000;
    /** {@code MADV_DONTFORK}: a child made by {@code fork} does not get the range. */
    public static final int MADV_DONTFORK = 10;
    /** {@code MADV_HUGEPAGE}: back the range with transparent huge pages where possible. */
    public static final int MADV_HUGEPAGE = 14;
    /** {@code RLIMIT_MEMLOCK}: bytes a process may lock or pin in memory. */
    public static final int RLIMIT_MEMLOCK = 8;
    /** {@code RLIM_INFINITY}: no limit. */
    public static final long RLIM_INFINITY = -1L;

    /** {@code EFD_SEMAPHORE}. */
    public static final int EFD_SEMAPHORE = 1;
    /** {@code EFD_NONBLOCK}. */
    public static final int EFD_NONBLOCK = 0x800;
    /** {@code EFD_CLOEXEC}. */
    public static final int EFD_CLOEXEC = 0x80000;
    /** {@code MFD_CLOEXEC}. */
    public static final int MFD_CLOEXEC = 1;

    /** {@code POLLIN}. */
    public static final short POLLIN = 0x1;
    /** {@code POLLOUT}. */
    public static final short POLLOUT = 0x4;
    /** {@code POLLERR}. */
    public static final short POLLERR = 0x8;
    /** {@code POLLHUP}. */
    public static final short POLLHUP = 0x10;
    /** {@code POLLNVAL}. */
    public static final short POLLNVAL = 0x20;

    /** {@code FALLOC_FL_KEEP_SIZE}. */
    public static final int FALLOC_FL_KEEP_SIZE = 0x1;
    /** {@code FALLOC_FL_PUNCH_HOLE}: must be combined with {@link #FALLOC_FL_KEEP_SIZE}. */
    public static final int FALLOC_FL_PUNCH_HOLE = 0x2;
    /** {@code FALLOC_FL_ZERO_RANGE}. */
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;

    /** {@code struct pollfd}: {@code int fd; short events; short revents;}. */
    public static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"));
    /** {@code struct iovec}: {@code void *iov_base; size_t iov_len;}. */
    public static final StructLayout IOVEC = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));

    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int SC_PAGESIZE = 30;

    private static final MethodHandle OPEN = Native.function("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = Native.function("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle IOCTL = Native.function("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle READ = Native.function("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = Native.function("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle PREAD = Native.function("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = Native.function("pwrite",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PREADV = Native.function("preadv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle PWRITEV = Native.function("pwritev",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle POLL = Native.function("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MMAP = Native.function("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = Native.function("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVENTFD = Native.function("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle MEMFD_CREATE = Native.function("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = Native.function("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle FALLOCATE = Native.function("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FDATASYNC = Native.function("fdatasync",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FSTAT_SIZE_LSEEK = Native.function("lseek",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FSTATFS = Native.function("fstatfs",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle STATX = Native.function("statx",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle DUP = Native.function("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle MADVISE = Native.function("madvise",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle GETRLIMIT = Native.function("getrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle SETRLIMIT = Native.function("setrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle SYSCONF = Native.function("sysconf",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT));

    // io_uring has no C library wrapper (liburing is a library of its own), so its three calls go
    // through syscall(2). Their numbers are those of the table every architecture shares since
    // Linux 5.1 (x86-64, arm64, riscv64 alike). syscall is variadic: every argument after the
    // number is passed as a long or a pointer, as wide as the register the kernel reads, so that
    // no register holds stale upper bits (a NULL sigset must really be NULL).
    private static final long SYS_IO_URING_SETUP = 425;
    private static final long SYS_IO_URING_ENTER = 426;
    private static final long SYS_IO_URING_REGISTER = 427;
    private static final MethodHandle SYSCALL_SETUP = Native.function("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SYSCALL_ENTER = Native.function("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SYSCALL_REGISTER = Native.function("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));

    private static final long PAGE_SIZE = pageSizeOrDefault();

    private Syscalls() {}

    /** The page size of this machine ({@code sysconf(_SC_PAGESIZE)}). */
    public static long pageSize() {
        return PAGE_SIZE;
    }

    /**
     * {@code open(2)}: opens {@code path}.
     *
     * @return the file descriptor
     */
    public static int open(String path, int flags, int mode) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path);
            while (true) {
                MemorySegment capture = Native.capture();
                int fd = (int) OPEN.invokeExact(capture, cPath, flags, mode);
                if (fd >= 0) {
                    return fd;
                }
                int errno = Native.errno(capture);
                if (errno != EINTR) {
                    throw new ErrnoException("open " + path, errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code close(2)}. A failure is reported, but the descriptor is gone either way. */
    public static void close(int fd) throws ErrnoException {
        MemorySegment capture = Native.capture();
        int result;
        try {
            result = (int) CLOSE.invokeExact(capture, fd);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        // Never retry close on EINTR: on Linux the descriptor is released even then, and a retry
        // could close a descriptor another thread has been given in the meantime.
        if (result < 0 && Native.errno(capture) != EINTR) {
            throw new ErrnoException("close fd " + fd, Native.errno(capture));
        }
    }

    /**
     * {@code ioctl(2)} with a pointer argument.
     *
     * @param argument the argument struct, or {@link MemorySegment#NULL} for an {@code _IO} ioctl
     * @return the non-negative result (a file descriptor for {@code VDUSE_IOTLB_GET_FD})
     */
    public static int ioctl(int fd, Ioctl request, MemorySegment argument) throws ErrnoException {
        try {
            while (true) {
                MemorySegment capture = Native.capture();
                int result = (int) IOCTL.invokeExact(capture, fd, request.request(), argument);
                if (result >= 0) {
                    return result;
                }
                int errno = Native.errno(capture);
                if (errno != EINTR) {
                    throw new ErrnoException(request.name(), errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code read(2)} into the first {@code length} bytes of {@code buffer}.
     *
     * @return bytes read, 0 at end of file
     */
    public static long read(int fd, MemorySegment buffer, long length) throws ErrnoException {
        checkLength(buffer, length);
        try {
            while (true) {
                MemorySegment capture = Native.capture();
                long n = (long) READ.invokeExact(capture, fd, buffer, length);
                if (n >= 0) {
                    return n;
                }
                int errno = Native.errno(capture);
                if (errno != EINTR) {
                    throw new ErrnoException("read fd " + fd, errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code read(2)} from a non-blocking descriptor that may have nothing to read: as
     * {@link #read}, but {@code EAGAIN} is an answer, not an error. A queue worker drains an empty
     * eventfd on most passes; an exception each time (formatted message, stack trace) cost about
     * 1.5 KB of garbage per request on the worker thread.
     *
     * @return bytes read, 0 at end of file, -1 if the read would block
     */
    public static long readIfReady(int fd, MemorySegment buffer, long length) throws ErrnoException {
        checkLength(buffer, length);
        try {
            while (true) {
                MemorySegment capture = Native.capture();
                long n = (long) READ.invokeExact(capture, fd, buffer, length);
                if (n >= 0) {
                    return n;
                }
                int errno = Native.errno(capture);
                if (errno == EAGAIN) {
                    return -1;
                }
                if (errno != EINTR) {
                    throw new ErrnoException("read fd " + fd, errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code write(2)} of the first {@code length} bytes of {@code buffer}.
     *
     * @return bytes written
     */
    public static long write(int fd, MemorySegment buffer, long length) throws ErrnoException {
        checkLength(buffer, length);
        try {
            while (true) {
                MemorySegment capture = Native.capture();
                long n = (long) WRITE.invokeExact(capture, fd, buffer, length);
                if (n >= 0) {
                    return n;
                }
                int errno = Native.errno(capture);
                if (errno != EINTR) {
                    throw new ErrnoException("write fd " + fd, errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // The positional I/O calls below make one bound call and, on EINTR, call themselves again
    // rather than loop: with the loop, C2 did not inline the bound call whole, and the linker's
    // errno-capture slice was allocated on every call (JFR; 40 B per request, see vduse-bench).
    // Each retry needs a signal that interrupts a call before any byte moved; the JVM installs
    // its handlers with SA_RESTART, which restarts such calls in the kernel instead.

    /** {@code pread(2)}: reads at {@code offset} without moving the file position. */
    public static long pread(int fd, MemorySegment buffer, long length, long offset) throws ErrnoException {
        checkLength(buffer, length);
        MemorySegment capture = Native.capture();
        long n;
        try {
            n = (long) PREAD.invokeExact(capture, fd, buffer, length, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (n >= 0) {
            return n;
        }
        int errno = Native.errno(capture);
        if (errno == EINTR) {
            // A signal came before any byte moved: the same call again.
            return pread(fd, buffer, length, offset);
        }
        throw new ErrnoException("pread fd " + fd, errno);
    }

    /** {@code pwrite(2)}: writes at {@code offset} without moving the file position. */
    public static long pwrite(int fd, MemorySegment buffer, long length, long offset) throws ErrnoException {
        checkLength(buffer, length);
        MemorySegment capture = Native.capture();
        long n;
        try {
            n = (long) PWRITE.invokeExact(capture, fd, buffer, length, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (n >= 0) {
            return n;
        }
        int errno = Native.errno(capture);
        if (errno == EINTR) {
            // A signal came before any byte moved: the same call again.
            return pwrite(fd, buffer, length, offset);
        }
        throw new ErrnoException("pwrite fd " + fd, errno);
    }

    /**
     * {@code preadv(2)}: scatters a read at {@code offset} into {@code count} iovecs.
     *
     * @param iovecs {@code count} {@link #IOVEC} structs in native memory
     */
    public static long preadv(int fd, MemorySegment iovecs, int count, long offset) throws ErrnoException {
        checkIovecs(iovecs, count);
        MemorySegment capture = Native.capture();
        long n;
        try {
            n = (long) PREADV.invokeExact(capture, fd, iovecs, count, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (n >= 0) {
            return n;
        }
        int errno = Native.errno(capture);
        if (errno == EINTR) {
            // A signal came before any byte moved: the same call again.
            return preadv(fd, iovecs, count, offset);
        }
        throw new ErrnoException("preadv fd " + fd, errno);
    }

    /**
     * {@code pwritev(2)}: gathers a write at {@code offset} from {@code count} iovecs.
     *
     * @param iovecs {@code count} {@link #IOVEC} structs in native memory
     */
    public static long pwritev(int fd, MemorySegment iovecs, int count, long offset) throws ErrnoException {
        checkIovecs(iovecs, count);
        MemorySegment capture = Native.capture();
        long n;
        try {
            n = (long) PWRITEV.invokeExact(capture, fd, iovecs, count, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (n >= 0) {
            return n;
        }
        int errno = Native.errno(capture);
        if (errno == EINTR) {
            // A signal came before any byte moved: the same call again.
            return pwritev(fd, iovecs, count, offset);
        }
        throw new ErrnoException("pwritev fd " + fd, errno);
    }

    /**
     * {@code poll(2)} over {@code count} {@link #POLLFD} structs.
     *
     * @param timeoutMillis -1 to wait for ever, 0 to return at once
     * @return how many descriptors have events; 0 on time-out or when interrupted by a signal
     */
    public static int poll(MemorySegment pollfds, int count, int timeoutMillis) throws ErrnoException {
        if (pollfds.byteSize() < POLLFD.byteSize() * count) {
            throw new IllegalArgumentException("pollfd array holds fewer than " + count + " entries");
        }
        MemorySegment capture = Native.capture();
        int n;
        try {
            n = (int) POLL.invokeExact(capture, pollfds, (long) count, timeoutMillis);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (n >= 0) {
            return n;
        }
        int errno = Native.errno(capture);
        // A signal ends the wait early; the caller's loop polls again, with its own deadline.
        if (errno == EINTR) {
            return 0;
        }
        throw new ErrnoException("poll", errno);
    }

    /**
     * {@code mmap(2)} of {@code length} bytes of {@code fd} at {@code offset}, shared.
     *
     * @return the address of the mapping, a zero-length segment: give it a size and a lifetime
     *     with {@link MemorySegment#reinterpret(long, Arena, java.util.function.Consumer)}
     */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) throws ErrnoException {
        MemorySegment capture = Native.capture();
        MemorySegment address;
        try {
            address = (MemorySegment) MMAP.invokeExact(capture, MemorySegment.NULL, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        // MAP_FAILED is (void *) -1.
        if (address.address() == -1L) {
            throw new ErrnoException("mmap fd %d offset 0x%x length %d".formatted(fd, offset, length),
                    Native.errno(capture));
        }
        return address;
    }

    /**
     * {@code mmap(2)} of {@code length} bytes of private anonymous memory, readable and writable,
     * zero-filled and page aligned.
     *
     * @return the address, a zero-length segment (see {@link #mmap})
     */
    public static MemorySegment mmapAnonymous(long length) throws ErrnoException {
        return mmap(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }

    /** {@code madvise(2)}. */
    public static void madvise(MemorySegment address, long length, int advice) throws ErrnoException {
        MemorySegment capture = Native.capture();
        int result;
        try {
            result = (int) MADVISE.invokeExact(capture, address, length, advice);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (result < 0) {
            throw new ErrnoException("madvise 0x%x length %d advice %d".formatted(address.address(), length, advice),
                    Native.errno(capture));
        }
    }

    /**
     * {@code getrlimit(2)}.
     *
     * @return the soft and the hard limit, {@link #RLIM_INFINITY} for none
     */
    public static long[] getrlimit(int resource) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment limits = arena.allocate(JAVA_LONG, 2);
            MemorySegment capture = Native.capture();
            int result;
            try {
                result = (int) GETRLIMIT.invokeExact(capture, resource, limits);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (result < 0) {
                throw new ErrnoException("getrlimit " + resource, Native.errno(capture));
            }
            return new long[] {limits.getAtIndex(JAVA_LONG, 0), limits.getAtIndex(JAVA_LONG, 1)};
        }
    }

    /** {@code setrlimit(2)}: raising the hard limit needs {@code CAP_SYS_RESOURCE} ({@code EPERM}). */
    public static void setrlimit(int resource, long soft, long hard) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment limits = arena.allocate(JAVA_LONG, 2);
            limits.setAtIndex(JAVA_LONG, 0, soft);
            limits.setAtIndex(JAVA_LONG, 1, hard);
            MemorySegment capture = Native.capture();
            int result;
            try {
                result = (int) SETRLIMIT.invokeExact(capture, resource, limits);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (result < 0) {
                throw new ErrnoException("setrlimit %d soft %d hard %d".formatted(resource, soft, hard),
                        Native.errno(capture));
            }
        }
    }

    /** {@code munmap(2)}. */
    public static void munmap(MemorySegment address, long length) throws ErrnoException {
        MemorySegment capture = Native.capture();
        int result;
        try {
            result = (int) MUNMAP.invokeExact(capture, address, length);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (result < 0) {
            throw new ErrnoException("munmap 0x%x length %d".formatted(address.address(), length),
                    Native.errno(capture));
        }
    }

    /** {@code eventfd(2)}. */
    public static int eventfd(int initialValue, int flags) throws ErrnoException {
        MemorySegment capture = Native.capture();
        int fd;
        try {
            fd = (int) EVENTFD.invokeExact(capture, initialValue, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (fd < 0) {
            throw new ErrnoException("eventfd", Native.errno(capture));
        }
        return fd;
    }

    /** {@code memfd_create(2)}: an anonymous file living in memory. */
    public static int memfdCreate(String name, int flags) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = Native.capture();
            int fd = (int) MEMFD_CREATE.invokeExact(capture, arena.allocateFrom(name), flags);
            if (fd < 0) {
                throw new ErrnoException("memfd_create " + name, Native.errno(capture));
            }
            return fd;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code ftruncate(2)}. */
    public static void ftruncate(int fd, long length) throws ErrnoException {
        MemorySegment capture = Native.capture();
        int result;
        try {
            result = (int) FTRUNCATE.invokeExact(capture, fd, length);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (result < 0) {
            throw new ErrnoException("ftruncate fd %d to %d".formatted(fd, length), Native.errno(capture));
        }
    }

    /** {@code fallocate(2)}, e.g. to punch a hole or zero a range. */
    public static void fallocate(int fd, int mode, long offset, long length) throws ErrnoException {
        try {
            while (true) {
                MemorySegment capture = Native.capture();
                int result = (int) FALLOCATE.invokeExact(capture, fd, mode, offset, length);
                if (result >= 0) {
                    return;
                }
                int errno = Native.errno(capture);
                if (errno != EINTR) {
                    throw new ErrnoException("fallocate fd %d mode 0x%x offset %d length %d"
                            .formatted(fd, mode, offset, length), errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code fdatasync(2)}. */
    public static void fdatasync(int fd) throws ErrnoException {
        try {
            while (true) {
                MemorySegment capture = Native.capture();
                int result = (int) FDATASYNC.invokeExact(capture, fd);
                if (result >= 0) {
                    return;
                }
                int errno = Native.errno(capture);
                if (errno != EINTR) {
                    throw new ErrnoException("fdatasync fd " + fd, errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** The size of the file or block device behind {@code fd} ({@code lseek(fd, 0, SEEK_END)}). */
    public static long size(int fd) throws ErrnoException {
        MemorySegment capture = Native.capture();
        long end;
        try {
            end = (long) FSTAT_SIZE_LSEEK.invokeExact(capture, fd, 0L, 2);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (end < 0) {
            throw new ErrnoException("lseek fd " + fd, Native.errno(capture));
        }
        return end;
    }

    /** {@code f_type} of tmpfs (and of a memfd's file system, shmem), from {@code linux/magic.h}. */
    public static final long TMPFS_MAGIC = 0x01021994L;
    /** {@code f_type} of ramfs. */
    public static final long RAMFS_MAGIC = 0x858458f6L;

    /**
     * The {@code f_type} of the file system {@code fd} is on ({@code fstatfs(2)}): a
     * {@code *_MAGIC} number of {@code linux/magic.h}.
     */
    public static long fileSystemType(int fd) throws ErrnoException {
        // struct statfs on 64-bit Linux is 120 bytes, f_type (a long) first.
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buffer = call.allocate(128, 8);
            MemorySegment capture = Native.capture();
            int result = (int) FSTATFS.invokeExact(capture, fd, buffer);
            if (result < 0) {
                throw new ErrnoException("fstatfs fd " + fd, Native.errno(capture));
            }
            return buffer.get(JAVA_LONG, 0);
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    private static final int AT_EMPTY_PATH = 0x1000;
    private static final int STATX_DIOALIGN = 0x2000;
    /** {@code struct statx}: 256 bytes; {@code stx_mask} at 0, {@code stx_dio_mem_align} at 152, {@code stx_dio_offset_align} at 156. */
    private static final long STATX_SIZE = 256;
    private static final long STX_DIO_MEM_ALIGN = 152;
    private static final long STX_DIO_OFFSET_ALIGN = 156;

    /**
     * What {@code O_DIRECT} I/O on {@code fd} must be aligned to, from {@code statx(2)}'s
     * {@code STATX_DIOALIGN} (Linux 6.1 on, files and block devices): {@code {memory, offset}}
     * alignment in bytes, or null where the kernel or the file system does not say (or says that
     * {@code O_DIRECT} is not supported, both 0).
     */
    public static long[] directIoAlignment(int fd) throws ErrnoException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buffer = call.allocate(STATX_SIZE, 8);
            MemorySegment empty = call.allocateFrom("");
            MemorySegment capture = Native.capture();
            int result = (int) STATX.invokeExact(capture, fd, empty, AT_EMPTY_PATH, STATX_DIOALIGN, buffer);
            if (result < 0) {
                throw new ErrnoException("statx fd " + fd, Native.errno(capture));
            }
            if ((buffer.get(JAVA_INT, 0) & STATX_DIOALIGN) == 0) {
                return null;
            }
            long memory = Integer.toUnsignedLong(buffer.get(JAVA_INT, STX_DIO_MEM_ALIGN));
            long offset = Integer.toUnsignedLong(buffer.get(JAVA_INT, STX_DIO_OFFSET_ALIGN));
            return memory == 0 || offset == 0 ? null : new long[] {memory, offset};
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code dup(2)}. */
    public static int dup(int fd) throws ErrnoException {
        MemorySegment capture = Native.capture();
        int copy;
        try {
            copy = (int) DUP.invokeExact(capture, fd);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (copy < 0) {
            throw new ErrnoException("dup fd " + fd, Native.errno(capture));
        }
        return copy;
    }

    // The io_uring calls below return -errno instead of throwing: their callers (io.vduse.core.uring)
    // treat some errnos as answers (EAGAIN and EBUSY from io_uring_enter, ENOSYS and EPERM from a
    // probe), decide on EINTR themselves, and name the operation in the exception. Each is one
    // bound call with no loop, the shape that let C2 drop the errno-capture slice (see pread).

    /**
     * {@code io_uring_setup(2)}: sets up a ring of {@code entries} submission entries.
     *
     * @param params a zeroed {@code struct io_uring_params} (flags in), filled in by the kernel
     * @return the ring's file descriptor, or {@code -errno}
     */
    public static int ioUringSetup(int entries, MemorySegment params) {
        if (params.byteSize() < 120 || !params.isNative()) {
            throw new IllegalArgumentException("io_uring_params needs 120 bytes of native memory");
        }
        MemorySegment capture = Native.capture();
        long result;
        try {
            result = (long) SYSCALL_SETUP.invokeExact(capture, SYS_IO_URING_SETUP, (long) entries, params);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        return result >= 0 ? (int) result : -Native.errno(capture);
    }

    /**
     * {@code io_uring_enter(2)} with no signal mask: submits up to {@code toSubmit} entries and,
     * with {@code IORING_ENTER_GETEVENTS} in {@code flags}, waits for {@code minComplete}
     * completions.
     *
     * @return the number of entries submitted, or {@code -errno}
     */
    public static int ioUringEnter(int ringFd, int toSubmit, int minComplete, int flags) {
        MemorySegment capture = Native.capture();
        long result;
        try {
            result = (long) SYSCALL_ENTER.invokeExact(capture, SYS_IO_URING_ENTER, (long) ringFd,
                    Integer.toUnsignedLong(toSubmit), Integer.toUnsignedLong(minComplete),
                    Integer.toUnsignedLong(flags), MemorySegment.NULL, 0L);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        return result >= 0 ? (int) result : -Native.errno(capture);
    }

    /**
     * {@code io_uring_register(2)}.
     *
     * @param argument what {@code opcode} takes, in native memory ({@link MemorySegment#NULL} for none)
     * @return the non-negative result, or {@code -errno}
     */
    public static int ioUringRegister(int ringFd, int opcode, MemorySegment argument, int count) {
        if (!argument.isNative()) {
            throw new IllegalArgumentException("io_uring_register needs native memory, not a heap segment");
        }
        MemorySegment capture = Native.capture();
        long result;
        try {
            result = (long) SYSCALL_REGISTER.invokeExact(capture, SYS_IO_URING_REGISTER, (long) ringFd,
                    Integer.toUnsignedLong(opcode), argument, Integer.toUnsignedLong(count));
        } catch (Throwable t) {
            throw unexpected(t);
        }
        return result >= 0 ? (int) result : -Native.errno(capture);
    }

    private static long pageSizeOrDefault() {
        try {
            long size = (long) SYSCONF.invokeExact(Native.capture(), SC_PAGESIZE);
            return size > 0 ? size : 4096;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    private static void checkLength(MemorySegment buffer, long length) {
        if (length < 0 || length > buffer.byteSize()) {
            throw new IndexOutOfBoundsException(
                    "length %d outside a buffer of %d bytes".formatted(length, buffer.byteSize()));
        }
        if (!buffer.isNative()) {
            throw new IllegalArgumentException("system calls need native memory, not a heap segment");
        }
    }

    private static void checkIovecs(MemorySegment iovecs, int count) {
        if (count < 0 || iovecs.byteSize() < IOVEC.byteSize() * count) {
            throw new IllegalArgumentException("iovec array holds fewer than " + count + " entries");
        }
    }

    /** Rethrows an unchecked throwable from a bound call; anything else cannot happen, and says so. */
    static AssertionError unexpected(Throwable t) {
        if (t instanceof Error e) {
            throw e;
        }
        if (t instanceof RuntimeException r) {
            throw r;
        }
        return new AssertionError("a native call threw a checked exception", t);
    }
}
