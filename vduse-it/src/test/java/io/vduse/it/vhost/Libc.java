package io.vduse.it.vhost;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.vduse.core.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc calls the vhost-vdpa client makes, through the Foreign Function &amp; Memory API: one
 * {@code static final MethodHandle} per function, {@code errno} captured per call (per thread),
 * and a failure thrown as an {@link ErrnoException} naming the operation and the errno.
 *
 * <p>Its own, not {@code vduse-core}'s native layer (which is exported to {@code io.vduse.blk}
 * only): the client must stand beside the SDK, not lean on it, so that a test of the SDK through
 * the client is not the SDK agreeing with itself.
 */
final class Libc {

    static final int O_RDWR = 0x2;
    static final int O_CLOEXEC = 0x80000;
    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_SHARED = 0x1;
    static final int MFD_CLOEXEC = 0x1;
    static final int EFD_NONBLOCK = 0x800;
    static final int EFD_CLOEXEC = 0x80000;
    static final short POLLIN = 0x1;
    /** {@code EAGAIN}: a non-blocking eventfd with nothing to read. */
    static final int EAGAIN = 11;
    /** {@code EINTR}: a signal interrupted the call (a JVM thread may get one). */
    static final int EINTR = 4;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(PathElement.groupElement("errno"));

    /** open(2): {@code int open(const char *path, int flags, ...)}, the mode variadic. */
    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    /** close(2). */
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /** ioctl(2): {@code int ioctl(int fd, unsigned long request, ...)}, one pointer argument. */
    private static final MethodHandle IOCTL = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    /** write(2). */
    private static final MethodHandle WRITE = downcall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** read(2). */
    private static final MethodHandle READ = downcall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** eventfd(2): {@code int eventfd(unsigned int initval, int flags)}. */
    private static final MethodHandle EVENTFD = downcall("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /** memfd_create(2): {@code int memfd_create(const char *name, unsigned int flags)}. */
    private static final MethodHandle MEMFD_CREATE = downcall("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    /** ftruncate(2). */
    private static final MethodHandle FTRUNCATE = downcall("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    /** mmap(2): {@code void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)}. */
    private static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    /** munmap(2). */
    private static final MethodHandle MUNMAP = downcall("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    /** poll(2): {@code int poll(struct pollfd *fds, nfds_t nfds, int timeout)}. */
    private static final MethodHandle POLL = downcall("poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    /** {@code struct pollfd} of {@code poll.h}. */
    static final StructLayout POLLFD = java.lang.foreign.MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), java.lang.foreign.ValueLayout.JAVA_SHORT.withName("events"),
            java.lang.foreign.ValueLayout.JAVA_SHORT.withName("revents"));

    private Libc() {}

    // Linking to libc is this class's job; the guest JVM runs with --enable-native-access.
    @SuppressWarnings("restricted")
    private static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        Linker.Option[] all = new Linker.Option[options.length + 1];
        all[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(options, 0, all, 1, options.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, all);
    }

    static int open(String path, int flags) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags, 0);
            return check(fd, state, "open " + path);
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static void close(int fd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            check((int) CLOSE.invokeExact(state, fd), state, "close");
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** ioctl(2) of {@code fd} with {@code request} and a pointer argument (NULL for none). */
    static int ioctl(int fd, String name, long request, MemorySegment argument) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            return check((int) IOCTL.invokeExact(state, fd, request, argument), state, name);
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static long write(int fd, MemorySegment buffer, long length, String what) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            long n = (long) WRITE.invokeExact(state, fd, buffer, length);
            if (n < 0) {
                throw new ErrnoException(what, (int) ERRNO.get(state, 0L));
            }
            return n;
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** read(2); -1 (no exception) for {@code EAGAIN} on a non-blocking descriptor. */
    static long read(int fd, MemorySegment buffer, long length, String what) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            long n = (long) READ.invokeExact(state, fd, buffer, length);
            if (n < 0) {
                int errno = (int) ERRNO.get(state, 0L);
                if (errno == EAGAIN) {
                    return -1;
                }
                throw new ErrnoException(what, errno);
            }
            return n;
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static int eventfd(int flags) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            return check((int) EVENTFD.invokeExact(state, 0, flags), state, "eventfd");
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static int memfdCreate(String name, long size) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = check((int) MEMFD_CREATE.invokeExact(state, arena.allocateFrom(name), MFD_CLOEXEC), state,
                    "memfd_create " + name);
            check((int) FTRUNCATE.invokeExact(state, fd, size), state, "ftruncate memfd " + name);
            return fd;
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** mmap(2) of {@code length} bytes of {@code fd}, shared, read-write; the segment's address is the uaddr. */
    @SuppressWarnings("restricted") // reinterpret: mmap gave exactly this many bytes
    static MemorySegment mmapShared(int fd, long length) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment address = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length,
                    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0L);
            if (address.address() == -1L) { // MAP_FAILED
                throw new ErrnoException("mmap", (int) ERRNO.get(state, 0L));
            }
            return address.reinterpret(length);
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static void munmap(MemorySegment mapping) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            check((int) MUNMAP.invokeExact(state, mapping, mapping.byteSize()), state, "munmap");
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** poll(2) of one descriptor for POLLIN; true if it is readable, false at the timeout or on EINTR. */
    static boolean pollIn(int fd, int timeoutMillis) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment pollfd = arena.allocate(POLLFD);
            pollfd.set(JAVA_INT, 0, fd);
            pollfd.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 4, POLLIN);
            int n = (int) POLL.invokeExact(state, pollfd, 1L, timeoutMillis);
            if (n < 0) {
                int errno = (int) ERRNO.get(state, 0L);
                if (errno == EINTR) {
                    return false;
                }
                throw new ErrnoException("poll", errno);
            }
            return n > 0;
        } catch (ErrnoException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static int check(int value, MemorySegment state, String what) throws ErrnoException {
        if (value < 0) {
            throw new ErrnoException(what, (int) ERRNO.get(state, 0L));
        }
        return value;
    }
}
