package io.vduse.core.uring;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The few C library calls the tests need and the SDK does not: {@code pipe2(2)} for descriptors
 * that block and break, {@code pthread_self(3)} and {@code pthread_kill(3)} to interrupt a thread
 * in a system call.
 */
final class TestNative {

    /** {@code SIGPIPE}: HotSpot installs a handler that ignores it, so delivering it is harmless. */
    static final int SIGPIPE = 13;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle PIPE2 = bind("pipe2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle PTHREAD_SELF = bind("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle PTHREAD_KILL = bind("pthread_kill",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));

    private TestNative() {}

    /** A pipe, close-on-exec: {read end, write end}. */
    static int[] pipe() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            int result = (int) PIPE2.invokeExact(fds, 0x80000);
            if (result != 0) {
                throw new IllegalStateException("pipe2 failed");
            }
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        }
    }

    /** The calling thread's {@code pthread_t}. */
    static long pthreadSelf() throws Throwable {
        return (long) PTHREAD_SELF.invokeExact();
    }

    /** Sends {@code signal} to one thread. */
    static void pthreadKill(long thread, int signal) throws Throwable {
        int result = (int) PTHREAD_KILL.invokeExact(thread, signal);
        if (result != 0) {
            throw new IllegalStateException("pthread_kill: " + result);
        }
    }

    @SuppressWarnings("restricted") // binding C functions is what the test needs
    private static MethodHandle bind(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), descriptor);
    }
}
