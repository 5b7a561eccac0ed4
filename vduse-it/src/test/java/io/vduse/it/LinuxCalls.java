package io.vduse.it;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few libc calls the kernel probes make, through the Foreign Function &amp; Memory API, each
 * returning its result together with the {@code errno} the call left behind.
 *
 * <p>Deliberately independent of {@code vduse-core}'s native layer: these tests check the uapi
 * layouts and numbers of {@code vduse-api} against the kernel with nothing else in between.
 */
public final class LinuxCalls {

    /** {@code O_RDWR} of {@code fcntl.h}. */
    public static final int O_RDWR = 0x2;
    /** {@code O_CLOEXEC} of {@code fcntl.h} (x86-64, arm64). */
    public static final int O_CLOEXEC = 0x80000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** {@code int open(const char *path, int flags, ...)}: open(2); the mode is variadic. */
    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    /** {@code int ioctl(int fd, unsigned long request, ...)}: ioctl(2), with a pointer argument. */
    private static final MethodHandle IOCTL = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    /** {@code int close(int fd)}: close(2). */
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private LinuxCalls() {}

    // Linking to libc is the point of this class; the JVM runs with --enable-native-access.
    @SuppressWarnings("restricted")
    private static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        Linker.Option[] all = new Linker.Option[options.length + 1];
        all[0] = CAPTURE_ERRNO;
        System.arraycopy(options, 0, all, 1, options.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, all);
    }

    /**
     * What a system call returned.
     *
     * @param value the return value ({@code -1} on failure)
     * @param errno the captured {@code errno} if {@code value} is negative, else 0
     */
    public record Result(int value, int errno) {

        /** Whether the call succeeded. */
        public boolean ok() {
            return value >= 0;
        }

        /** {@code ok}, or the errno by name, as the SDK names it: {@code EINVAL(22)}. */
        public String describe() {
            return ok() ? "ok" : io.vduse.core.Errno.name(errno) + "(" + errno + ")";
        }
    }

    /** open(2) of {@code path} with {@code flags}. */
    public static Result open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags, 0);
            return result(fd, state);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** ioctl(2) of {@code fd} with {@code request} and a pointer to {@code argument}. */
    public static Result ioctl(int fd, long request, MemorySegment argument) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int ret = (int) IOCTL.invokeExact(state, fd, request, argument);
            return result(ret, state);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** close(2) of {@code fd}. */
    public static Result close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int ret = (int) CLOSE.invokeExact(state, fd);
            return result(ret, state);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static Result result(int value, MemorySegment state) {
        return new Result(value, value < 0 ? (int) ERRNO.get(state, 0L) : 0);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException e) {
            return e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
