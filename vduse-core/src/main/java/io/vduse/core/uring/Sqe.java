package io.vduse.core.uring;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_sqe} ({@code include/uapi/linux/io_uring.h}), 64 bytes: one submission
 * entry, in the host's byte order. Unions are named by the member the opcodes here use.
 *
 * <pre>
 *  0 u8  opcode         IORING_OP_*
 *  1 u8  flags          IOSQE_*
 *  2 u16 ioprio
 *  4 s32 fd
 *  8 u64 off            file offset (union: addr2, cmd_op)
 * 16 u64 addr           iovec array; fallocate: the length (union: splice_off_in)
 * 24 u32 len            iovec count; fallocate: the mode
 * 28 u32 op_flags       rw_flags, fsync_flags, ... (one union of per-opcode flags)
 * 32 u64 user_data      echoed in the completion
 * 40 u16 buf_index      (union: buf_group)
 * 42 u16 personality
 * 44 s32 splice_fd_in   (union: file_index, addr_len)
 * 48 u64 addr3
 * 56 u64 pad2
 * 64
 * </pre>
 *
 * <p>Every field is written for every entry: the array is reused, and a field left over from an
 * earlier entry (a {@code buf_index}, a {@code personality}) would change what the kernel does.
 */
final class Sqe {

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_BYTE.withName("opcode"),
            JAVA_BYTE.withName("flags"),
            JAVA_SHORT.withName("ioprio"),
            JAVA_INT.withName("fd"),
            JAVA_LONG.withName("off"),
            JAVA_LONG.withName("addr"),
            JAVA_INT.withName("len"),
            JAVA_INT.withName("op_flags"),
            JAVA_LONG.withName("user_data"),
            JAVA_SHORT.withName("buf_index"),
            JAVA_SHORT.withName("personality"),
            JAVA_INT.withName("splice_fd_in"),
            JAVA_LONG.withName("addr3"),
            JAVA_LONG.withName("pad2"))
            .withName("io_uring_sqe");

    static final long SIZE = LAYOUT.byteSize();
    static final long OPCODE = offset("opcode");
    static final long FLAGS = offset("flags");
    static final long IOPRIO = offset("ioprio");
    static final long FD = offset("fd");
    static final long OFF = offset("off");
    static final long ADDR = offset("addr");
    static final long LEN = offset("len");
    static final long OP_FLAGS = offset("op_flags");
    static final long USER_DATA = offset("user_data");
    static final long BUF_INDEX = offset("buf_index");
    static final long PERSONALITY = offset("personality");
    static final long SPLICE_FD_IN = offset("splice_fd_in");
    static final long ADDR3 = offset("addr3");
    static final long PAD2 = offset("pad2");

    // Opcodes (enum io_uring_op); all of them exist since Linux 5.6.
    static final byte OP_NOP = 0;
    static final byte OP_READV = 1;
    static final byte OP_WRITEV = 2;
    static final byte OP_FSYNC = 3;
    static final byte OP_FALLOCATE = 17;

    /** {@code IORING_FSYNC_DATASYNC}: fdatasync rather than fsync. */
    static final int FSYNC_DATASYNC = 1;

    private Sqe() {}

    /** The opcodes this engine prepares, for the probe: name and number. */
    static String opcodeName(int opcode) {
        return switch (opcode) {
            case OP_NOP -> "IORING_OP_NOP";
            case OP_READV -> "IORING_OP_READV";
            case OP_WRITEV -> "IORING_OP_WRITEV";
            case OP_FSYNC -> "IORING_OP_FSYNC";
            case OP_FALLOCATE -> "IORING_OP_FALLOCATE";
            default -> "opcode " + opcode;
        };
    }

    private static long offset(String field) {
        return LAYOUT.byteOffset(groupElement(field));
    }
}
