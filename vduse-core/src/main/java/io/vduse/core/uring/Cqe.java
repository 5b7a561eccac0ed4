package io.vduse.core.uring;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_cqe} ({@code include/uapi/linux/io_uring.h}), 16 bytes (the ring is not
 * set up with {@code IORING_SETUP_CQE32}): one completion, in the host's byte order.
 *
 * <pre>
 *  0 u64 user_data   the submission's user_data
 *  8 s32 res         the result: bytes moved, 0, or -errno
 * 12 u32 flags       IORING_CQE_F_* (none concerns the opcodes here)
 * 16
 * </pre>
 */
final class Cqe {

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("user_data"),
            JAVA_INT.withName("res"),
            JAVA_INT.withName("flags"))
            .withName("io_uring_cqe");

    static final long SIZE = LAYOUT.byteSize();
    static final long USER_DATA = LAYOUT.byteOffset(groupElement("user_data"));
    static final long RES = LAYOUT.byteOffset(groupElement("res"));

    private Cqe() {}
}
