package io.vduse.core.uring;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_params} ({@code include/uapi/linux/io_uring.h}): what
 * {@code io_uring_setup(2)} takes (flags) and fills in (sizes, features, and where each field of
 * the two rings lies in their mappings). All fields are in the host's byte order.
 *
 * <pre>
 *   0 u32 sq_entries        out: submission entries (the request rounded up to a power of two)
 *   4 u32 cq_entries        out: completion entries (twice sq_entries unless IORING_SETUP_CQSIZE)
 *   8 u32 flags             in: IORING_SETUP_*
 *  12 u32 sq_thread_cpu     IORING_SETUP_SQ_AFF only
 *  16 u32 sq_thread_idle    IORING_SETUP_SQPOLL only
 *  20 u32 features          out: IORING_FEAT_*
 *  24 u32 wq_fd             IORING_SETUP_ATTACH_WQ only
 *  28 u32 resv[3]           zero
 *  40 struct io_sqring_offsets sq_off (40 bytes, below)
 *  80 struct io_cqring_offsets cq_off (40 bytes, below)
 * 120
 *
 * io_sqring_offsets: offsets into the SQ ring mapping (IORING_OFF_SQ_RING)
 *   0 u32 head   4 u32 tail   8 u32 ring_mask   12 u32 ring_entries
 *  16 u32 flags  20 u32 dropped  24 u32 array (u32[sq_entries], SQE indexes)
 *  28 u32 resv1  32 u64 user_addr (resv2 before 6.5)
 *
 * io_cqring_offsets: offsets into the CQ ring mapping (IORING_OFF_CQ_RING, or the SQ ring's
 * with IORING_FEAT_SINGLE_MMAP)
 *   0 u32 head   4 u32 tail   8 u32 ring_mask   12 u32 ring_entries
 *  16 u32 overflow  20 u32 cqes (struct io_uring_cqe[cq_entries])  24 u32 flags
 *  28 u32 resv1  32 u64 user_addr (resv2 before 6.5)
 * </pre>
 */
final class IoUringParams {

    /** {@code struct io_sqring_offsets}. */
    static final StructLayout SQ_OFFSETS = MemoryLayout.structLayout(
            JAVA_INT.withName("head"),
            JAVA_INT.withName("tail"),
            JAVA_INT.withName("ring_mask"),
            JAVA_INT.withName("ring_entries"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("dropped"),
            JAVA_INT.withName("array"),
            JAVA_INT.withName("resv1"),
            JAVA_LONG.withName("user_addr"))
            .withName("io_sqring_offsets");

    /** {@code struct io_cqring_offsets}. */
    static final StructLayout CQ_OFFSETS = MemoryLayout.structLayout(
            JAVA_INT.withName("head"),
            JAVA_INT.withName("tail"),
            JAVA_INT.withName("ring_mask"),
            JAVA_INT.withName("ring_entries"),
            JAVA_INT.withName("overflow"),
            JAVA_INT.withName("cqes"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("resv1"),
            JAVA_LONG.withName("user_addr"))
            .withName("io_cqring_offsets");

    /** {@code struct io_uring_params}. */
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("sq_entries"),
            JAVA_INT.withName("cq_entries"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("sq_thread_cpu"),
            JAVA_INT.withName("sq_thread_idle"),
            JAVA_INT.withName("features"),
            JAVA_INT.withName("wq_fd"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("resv"),
            SQ_OFFSETS.withName("sq_off"),
            CQ_OFFSETS.withName("cq_off"))
            .withName("io_uring_params");

    static final long SQ_ENTRIES = LAYOUT.byteOffset(groupElement("sq_entries"));
    static final long CQ_ENTRIES = LAYOUT.byteOffset(groupElement("cq_entries"));
    static final long FLAGS = LAYOUT.byteOffset(groupElement("flags"));
    static final long FEATURES = LAYOUT.byteOffset(groupElement("features"));

    static final long SQ_OFF_HEAD = sq("head");
    static final long SQ_OFF_TAIL = sq("tail");
    static final long SQ_OFF_RING_MASK = sq("ring_mask");
    static final long SQ_OFF_RING_ENTRIES = sq("ring_entries");
    static final long SQ_OFF_FLAGS = sq("flags");
    static final long SQ_OFF_ARRAY = sq("array");

    static final long CQ_OFF_HEAD = cq("head");
    static final long CQ_OFF_TAIL = cq("tail");
    static final long CQ_OFF_RING_MASK = cq("ring_mask");
    static final long CQ_OFF_RING_ENTRIES = cq("ring_entries");
    static final long CQ_OFF_CQES = cq("cqes");

    /** {@code IORING_FEAT_SINGLE_MMAP} (5.4): one mmap serves the SQ and the CQ ring. */
    static final int FEAT_SINGLE_MMAP = 1;
    /** {@code IORING_FEAT_NODROP} (5.5): a completion that finds the CQ ring full is kept, not dropped. */
    static final int FEAT_NODROP = 1 << 1;
    /**
     * {@code IORING_FEAT_SUBMIT_STABLE} (5.5): what an entry points at for its submission (an
     * iovec array) is read by the time it is submitted, so it may be reused after that.
     */
    static final int FEAT_SUBMIT_STABLE = 1 << 2;

    /** {@code IORING_OFF_SQ_RING}: mmap offset of the SQ ring (and of the CQ ring with SINGLE_MMAP). */
    static final long OFF_SQ_RING = 0L;
    /** {@code IORING_OFF_CQ_RING}. */
    static final long OFF_CQ_RING = 0x8000000L;
    /** {@code IORING_OFF_SQES}: mmap offset of the SQE array, always a mapping of its own. */
    static final long OFF_SQES = 0x10000000L;

    /** {@code IORING_SQ_CQ_OVERFLOW} in the SQ ring's flags: the kernel holds completions the CQ ring had no room for. */
    static final int SQ_CQ_OVERFLOW = 1 << 1;

    private IoUringParams() {}

    private static long sq(String field) {
        return LAYOUT.byteOffset(groupElement("sq_off"), groupElement(field));
    }

    private static long cq(String field) {
        return LAYOUT.byteOffset(groupElement("cq_off"), groupElement(field));
    }
}
