package io.vduse.virtqueue;

import io.vduse.api.Layouts;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Little-endian loads and stores of ring fields, named after the memory ordering they give
 * (JCTools style): {@code lp}/{@code sp} plain, {@code la} load-acquire, {@code so} store-release
 * ("ordered"). Which ordering a field needs, and why, is said where it is used.
 *
 * <p>The ordered accesses go through aligned var handles: the ring areas are checked for the
 * specification's alignment when a queue is made, so a misaligned field cannot occur.
 */
final class RingAccess {

    private static final VarHandle LE16 =
            ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();
    private static final VarHandle LE32 =
            ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    private RingAccess() {}

    static int lpU16(MemorySegment ring, long offset) {
        return Short.toUnsignedInt(ring.get(Layouts.LE16, offset));
    }

    static int laU16(MemorySegment ring, long offset) {
        return Short.toUnsignedInt((short) LE16.getAcquire(ring, offset));
    }

    static void spU16(MemorySegment ring, long offset, int value) {
        ring.set(Layouts.LE16, offset, (short) value);
    }

    static void soU16(MemorySegment ring, long offset, int value) {
        LE16.setRelease(ring, offset, (short) value);
    }

    static int lpI32(MemorySegment ring, long offset) {
        return ring.get(Layouts.LE32, offset);
    }

    static void spI32(MemorySegment ring, long offset, int value) {
        ring.set(Layouts.LE32, offset, value);
    }

    static int laI32(MemorySegment ring, long offset) {
        return (int) LE32.getAcquire(ring, offset);
    }

    static void soI32(MemorySegment ring, long offset, int value) {
        LE32.setRelease(ring, offset, value);
    }

    static long lpI64(MemorySegment ring, long offset) {
        return ring.get(Layouts.LE64, offset);
    }

    static void spI64(MemorySegment ring, long offset, long value) {
        ring.set(Layouts.LE64, offset, value);
    }

    /** Whether feature bit {@code bit} is set in {@code features}. */
    static boolean has(long features, int bit) {
        return (features & (1L << bit)) != 0;
    }
}
