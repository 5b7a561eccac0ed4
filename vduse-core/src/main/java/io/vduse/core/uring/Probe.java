package io.vduse.core.uring;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_probe} ({@code include/uapi/linux/io_uring.h}), what
 * {@code IORING_REGISTER_PROBE} (Linux 5.6) fills in: which opcodes this kernel supports.
 *
 * <pre>
 *  0 u8  last_op     the highest opcode the kernel knows
 *  1 u8  ops_len     entries of ops[] filled in
 *  2 u16 resv
 *  4 u32 resv2[3]
 * 16 struct io_uring_probe_op ops[], 8 bytes each:
 *      0 u8 op   1 u8 resv   2 u16 flags (IO_URING_OP_SUPPORTED)   4 u32 resv2
 * </pre>
 */
final class Probe {

    static final StructLayout HEADER = MemoryLayout.structLayout(
            JAVA_BYTE.withName("last_op"),
            JAVA_BYTE.withName("ops_len"),
            JAVA_SHORT.withName("resv"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("resv2"))
            .withName("io_uring_probe");

    static final StructLayout OP = MemoryLayout.structLayout(
            JAVA_BYTE.withName("op"),
            JAVA_BYTE.withName("resv"),
            JAVA_SHORT.withName("flags"),
            JAVA_INT.withName("resv2"))
            .withName("io_uring_probe_op");

    static final long LAST_OP = HEADER.byteOffset(groupElement("last_op"));
    static final long OPS_LEN = HEADER.byteOffset(groupElement("ops_len"));
    static final long OPS = HEADER.byteSize();
    static final long OP_FLAGS = OP.byteOffset(groupElement("flags"));

    /** {@code IO_URING_OP_SUPPORTED}. */
    static final short OP_SUPPORTED = 1;

    /** Room for every opcode a u8 can name. */
    static final int MAX_OPS = 256;

    /** Bytes of a probe with room for {@link #MAX_OPS} opcodes. */
    static final long SIZE = OPS + MAX_OPS * OP.byteSize();

    private Probe() {}

    /**
     * Whether the probe the kernel filled in says it supports {@code opcode}: the opcode must be
     * within what the kernel knows and reported, and flagged as supported.
     */
    static boolean supports(MemorySegment probe, int opcode) {
        int lastOp = Byte.toUnsignedInt(probe.get(JAVA_BYTE, LAST_OP));
        int opsLen = Byte.toUnsignedInt(probe.get(JAVA_BYTE, OPS_LEN));
        if (opcode > lastOp || opcode >= opsLen) {
            return false;
        }
        short flags = probe.get(JAVA_SHORT, OPS + opcode * OP.byteSize() + OP_FLAGS);
        return (flags & OP_SUPPORTED) != 0;
    }
}
