package io.vduse.core.internal.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Binds C library functions once, each to a {@code static final MethodHandle}, with {@code errno}
 * captured right after the call by the linker (the value would otherwise be clobbered by the JVM
 * before Java code could read it).
 *
 * <p>The capture buffer is per thread: a buffer shared between threads would let one thread's
 * failing call overwrite another's {@code errno} between the call and its read.
 */
final class Native {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(groupElement("errno")).withInvokeExactBehavior();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    static {
        NativeAccessCheck.requireEnabled();
    }

    private Native() {}

    /**
     * A handle to {@code name} in the C library whose first parameter is the errno capture buffer.
     *
     * @param extra further linker options, e.g. {@code firstVariadicArg} for {@code ioctl}
     */
    // Binding native functions is what this class is for; NativeAccessCheck has already made sure
    // the JVM allows it, so the restricted-method warning says nothing new here.
    @SuppressWarnings("restricted")
    static MethodHandle function(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("C library function not found: " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /** This thread's errno capture buffer, to pass as the first argument of a bound call. */
    static MemorySegment capture() {
        return CAPTURE.get();
    }

    /** The errno the last bound call of this thread left in {@code capture}. */
    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }
}
