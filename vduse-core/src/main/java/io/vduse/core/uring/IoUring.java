package io.vduse.core.uring;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.NativeAccessCheck;
import io.vduse.core.internal.linux.Syscalls;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One io_uring instance ({@code io_uring(7)}): a submission queue (SQ) and a completion queue
 * (CQ) shared with the kernel through three mappings, driven without liburing by the three raw
 * system calls ({@code io_uring_setup(2)}, {@code io_uring_enter(2)}, {@code io_uring_register(2)}).
 *
 * <p>A cycle: {@code prepare*} writes submission entries straight into the mapped SQE array
 * (nothing reaches the kernel yet); {@link #submit()} hands every pending entry over in one
 * system call; the kernel posts a completion per entry, in whatever order the operations finish,
 * each carrying the entry's {@code userData}; {@link #reap} hands them to a
 * {@link CompletionSink} and frees their slots. {@link #submitAndWait} submits and waits in the
 * same call.
 *
 * <pre>{@code
 * try (IoUring ring = IoUring.open(64)) {
 *     ring.prepareReadv(fd, iovecs.array(), iovecs.count(), offset, requestId);
 *     ring.submitAndWait(1);
 *     ring.reap(sink);   // sink.completed(requestId, bytes read or -errno)
 * }
 * }</pre>
 *
 * <p><b>Errors.</b> A system call of the ring's own that fails throws {@link ErrnoException}
 * naming it ({@code io_uring_enter: EBADF (9) ...}). An operation that fails is not an
 * exception: its completion's result is {@code -errno} ({@code -EBADF} for a closed descriptor,
 * {@code -EPIPE}, {@code -EISDIR}, ...).
 *
 * <p><b>Memory.</b> An iovec array is read by the kernel when its entry is submitted
 * ({@code IORING_FEAT_SUBMIT_STABLE}, which {@link #availability()} requires), so it may be
 * rewritten once {@link #submit()} has returned having submitted the entry; the buffers it
 * describes must stay valid until the entry's completion is reaped. Close the ring only when
 * nothing it submitted is still in flight: the kernel may still be moving data for an operation
 * that has not completed.
 *
 * <p><b>Threads.</b> Not thread-safe: one thread prepares, submits and reaps (a queue's thread,
 * which owns the ring as it owns its virtqueue); the SQ and CQ indexes kept here are that
 * thread's, and nothing is locked. The ring may be opened on another thread than the one that
 * uses it. {@link #close()} may be called from any thread, any number of times, but only once the
 * owning thread has stopped using the ring: a call in progress there could otherwise act on a
 * descriptor number reused since. After close, every method but {@code close} throws
 * {@link IllegalStateException}.
 *
 * <p><b>Allocation.</b> Nothing on the prepare, submit and reap paths allocates: no boxing, no
 * arena, no captured lambda; the argument of {@code io_uring_register} is allocated with the ring.
 *
 * <p><b>Kernels.</b> Linux 5.6 or newer with the opcodes prepared here ({@link #availability()}
 * checks); the SQ is used through its index array ({@code sq_array}, not
 * {@code IORING_SETUP_NO_SQARRAY}), so that the same code runs from 5.6 to today.
 */
public final class IoUring implements AutoCloseable {

    /** The most submission entries {@code io_uring_setup} accepts ({@code IORING_MAX_ENTRIES}). */
    public static final int MAX_ENTRIES = 32768;

    private static final System.Logger LOG = System.getLogger(IoUring.class.getName());

    private static final int ENTER_GETEVENTS = 1;
    private static final int REGISTER_EVENTFD = 4;
    private static final int REGISTER_PROBE = 8;

    /** The opcodes this class prepares; {@link #availability()} checks the kernel has each. */
    private static final int[] OPCODES = {Sqe.OP_NOP, Sqe.OP_READV, Sqe.OP_WRITEV, Sqe.OP_FSYNC, Sqe.OP_FALLOCATE};

    /**
     * The ring indexes the kernel shares with us: 32-bit, 4-byte aligned (the kernel places them
     * so), read and written with the ordering the kernel's side pairs with
     * ({@code smp_load_acquire} / {@code smp_store_release} in {@code io_uring/io_uring.c}).
     * Exact invocation: no boxing or conversion can creep in at a call site.
     */
    private static final VarHandle INDEX = ValueLayout.JAVA_INT.varHandle().withInvokeExactBehavior();

    private final int ringFd;
    private final int features;
    private final Arena arena;
    /** The SQ ring: head, tail, flags, the index array. */
    private final MemorySegment sqRing;
    /** The CQ ring: head, tail, the CQE array. The same mapping as sqRing with SINGLE_MMAP. */
    private final MemorySegment cqRing;
    /** The SQE array, a mapping of its own. */
    private final MemorySegment sqes;
    /** The argument of io_uring_register(IORING_REGISTER_EVENTFD): one int, made with the ring. */
    private final MemorySegment registerArgument;

    private final int sqEntries;
    private final int sqMask;
    private final int cqEntries;
    private final int cqMask;
    private final long sqHeadOffset;
    private final long sqTailOffset;
    private final long sqFlagsOffset;
    private final long cqHeadOffset;
    private final long cqTailOffset;
    private final long cqesOffset;

    /**
     * The SQ tail as this thread has prepared it. Free-running (wraps at 2^32, as the kernel's):
     * differences of indexes are right across the wrap, the slot is {@code index & mask}.
     */
    private int sqTail;
    /** The kernel's SQ head as last read (it moves only during our io_uring_enter). */
    private int sqHead;
    /** The CQ head: ours alone to move; the ring's copy is stored at the end of each reap. */
    private int cqHead;
    /** The last submit stopped short because the kernel answered EAGAIN or EBUSY. */
    private boolean refused;

    private final AtomicBoolean closed = new AtomicBoolean();

    private IoUring(int ringFd, MemorySegment params, Arena arena, MemorySegment sqRing, MemorySegment cqRing,
            MemorySegment sqes) {
        this.ringFd = ringFd;
        this.features = params.get(JAVA_INT, IoUringParams.FEATURES);
        this.arena = arena;
        this.sqRing = sqRing;
        this.cqRing = cqRing;
        this.sqes = sqes;
        this.registerArgument = arena.allocate(JAVA_INT);
        this.sqEntries = params.get(JAVA_INT, IoUringParams.SQ_ENTRIES);
        this.cqEntries = params.get(JAVA_INT, IoUringParams.CQ_ENTRIES);
        this.sqHeadOffset = offset(params, IoUringParams.SQ_OFF_HEAD);
        this.sqTailOffset = offset(params, IoUringParams.SQ_OFF_TAIL);
        this.sqFlagsOffset = offset(params, IoUringParams.SQ_OFF_FLAGS);
        this.cqHeadOffset = offset(params, IoUringParams.CQ_OFF_HEAD);
        this.cqTailOffset = offset(params, IoUringParams.CQ_OFF_TAIL);
        this.cqesOffset = offset(params, IoUringParams.CQ_OFF_CQES);
        this.sqMask = sqRing.get(JAVA_INT, offset(params, IoUringParams.SQ_OFF_RING_MASK));
        this.cqMask = cqRing.get(JAVA_INT, offset(params, IoUringParams.CQ_OFF_RING_MASK));
        // What the kernel told us sizes every index computation below: check it agrees with
        // itself before trusting it (a mask that is not entries - 1 would index past the arrays,
        // which the segments' bounds checks would catch, but later and less clearly).
        checkRing("SQ", sqEntries, sqMask, sqRing.get(JAVA_INT, offset(params, IoUringParams.SQ_OFF_RING_ENTRIES)));
        checkRing("CQ", cqEntries, cqMask, cqRing.get(JAVA_INT, offset(params, IoUringParams.CQ_OFF_RING_ENTRIES)));
        // The index array maps SQ ring positions to SQE slots. The kernel only reads it, so it is
        // written once, as the identity: position i always names slot i, and a prepared entry
        // needs no second store. (liburing does the same since 2.3.)
        long array = offset(params, IoUringParams.SQ_OFF_ARRAY);
        for (int i = 0; i < sqEntries; i++) {
            sqRing.set(JAVA_INT, array + 4L * i, i);
        }
        this.sqTail = (int) INDEX.getAcquire(sqRing, sqTailOffset);
        this.sqHead = sqTail;
        this.cqHead = (int) INDEX.getAcquire(cqRing, cqHeadOffset);
    }

    /**
     * Sets up a ring of at least {@code entries} submission entries: the kernel rounds the
     * number up to a power of two, and gives the completion queue twice as many entries.
     *
     * @param entries 1 to {@link #MAX_ENTRIES}
     * @throws ErrnoException if {@code io_uring_setup} or one of the ring's mappings fails, e.g.
     *     {@code ENOSYS} (no io_uring), {@code EPERM} (refused by the {@code io_uring_disabled}
     *     sysctl or a seccomp filter), {@code ENOMEM} (before 5.12: {@code RLIMIT_MEMLOCK})
     */
    public static IoUring open(int entries) throws ErrnoException {
        if (entries < 1 || entries > MAX_ENTRIES) {
            throw new IllegalArgumentException("entries must be 1 to " + MAX_ENTRIES + ": " + entries);
        }
        try (Arena scratch = Arena.ofConfined()) {
            // Zeroed: no IORING_SETUP_* flag (interrupt-driven, no SQ polling thread, the
            // default CQ size), and the reserved fields the kernel insists are zero.
            MemorySegment params = scratch.allocate(IoUringParams.LAYOUT);
            int ringFd = Syscalls.ioUringSetup(entries, params);
            if (ringFd < 0) {
                throw new ErrnoException("io_uring_setup " + entries + " entries", -ringFd);
            }
            // Shared: the ring may be opened on one thread, used on a queue thread and closed on
            // a third. The arena's close unmaps every mapping made below.
            Arena arena = Arena.ofShared();
            try {
                int sqEntries = params.get(JAVA_INT, IoUringParams.SQ_ENTRIES);
                int cqEntries = params.get(JAVA_INT, IoUringParams.CQ_ENTRIES);
                long sqRingSize = offset(params, IoUringParams.SQ_OFF_ARRAY) + 4L * sqEntries;
                long cqRingSize = offset(params, IoUringParams.CQ_OFF_CQES) + Cqe.SIZE * cqEntries;
                MemorySegment sqRing;
                MemorySegment cqRing;
                if ((params.get(JAVA_INT, IoUringParams.FEATURES) & IoUringParams.FEAT_SINGLE_MMAP) != 0) {
                    // Since 5.4 both rings live in one mapping, as large as the larger of the two.
                    sqRing = map(ringFd, Math.max(sqRingSize, cqRingSize), IoUringParams.OFF_SQ_RING, arena);
                    cqRing = sqRing;
                } else {
                    sqRing = map(ringFd, sqRingSize, IoUringParams.OFF_SQ_RING, arena);
                    cqRing = map(ringFd, cqRingSize, IoUringParams.OFF_CQ_RING, arena);
                }
                MemorySegment sqes = map(ringFd, Sqe.SIZE * sqEntries, IoUringParams.OFF_SQES, arena);
                return new IoUring(ringFd, params, arena, sqRing, cqRing, sqes);
            } catch (ErrnoException | RuntimeException e) {
                arena.close();
                closeQuietly(ringFd);
                throw e;
            }
        }
    }

    /**
     * Whether this process may use io_uring with the opcodes this class prepares, probed once
     * (the first call; later calls return the same answer): a ring of two entries is set up, its
     * features checked ({@code IORING_FEAT_NODROP}, {@code IORING_FEAT_SUBMIT_STABLE}), its
     * opcodes asked for ({@code IORING_REGISTER_PROBE}, Linux 5.6), and a no-op sent round.
     * Unavailable, with the reason: {@code ENOSYS} (no io_uring), {@code EPERM} (the
     * {@code kernel.io_uring_disabled} sysctl, or a seccomp filter), a kernel too old for the
     * probe, an opcode missing, native access not enabled.
     */
    public static Availability availability() {
        return Probed.AVAILABILITY;
    }

    /** The number of submission entries (a power of two). */
    public int submissionEntries() {
        return sqEntries;
    }

    /** The number of completion entries: the most completions the ring holds unreaped. */
    public int completionEntries() {
        return cqEntries;
    }

    /** Free submission slots now; prepared entries not yet submitted count as used. */
    public int submissionSpace() {
        return sqEntries - (sqTail - loadSqHead());
    }

    /** Entries prepared and not yet submitted. */
    public int pending() {
        return sqTail - loadSqHead();
    }

    /**
     * Prepares a {@code preadv(2)} of {@code fd} at {@code offset} into {@code count} iovecs
     * ({@code IORING_OP_READV}). The completion's result is the bytes read (fewer than asked at
     * the end of the file, 0 at or past it), or {@code -errno}.
     *
     * @param iovecs {@code count} {@code struct iovec} in native memory, e.g.
     *     {@code IoVectors.array()}; see the class comment for how long it must stay valid
     * @param offset the file offset, or -1 for the file's current position
     * @return false, and nothing written, when no submission slot is free
     */
    public boolean prepareReadv(int fd, MemorySegment iovecs, int count, long offset, long userData) {
        return prepareVectored(Sqe.OP_READV, fd, iovecs, count, offset, userData);
    }

    /**
     * Prepares a {@code pwritev(2)} to {@code fd} at {@code offset} from {@code count} iovecs
     * ({@code IORING_OP_WRITEV}). The completion's result is the bytes written, or
     * {@code -errno} ({@code -EPIPE} for a pipe with no reader: the JVM's handler ignores the
     * {@code SIGPIPE} that comes with it).
     *
     * @param iovecs {@code count} {@code struct iovec} in native memory
     * @param offset the file offset, or -1 for the file's current position
     * @return false, and nothing written, when no submission slot is free
     */
    public boolean prepareWritev(int fd, MemorySegment iovecs, int count, long offset, long userData) {
        return prepareVectored(Sqe.OP_WRITEV, fd, iovecs, count, offset, userData);
    }

    /**
     * Prepares an {@code fsync(2)} of {@code fd}, or an {@code fdatasync(2)} when
     * {@code dataOnly} ({@code IORING_OP_FSYNC}, {@code IORING_FSYNC_DATASYNC}). It is not
     * ordered after writes submitted before it: submit it once they have completed.
     *
     * @return false, and nothing written, when no submission slot is free
     */
    public boolean prepareFsync(int fd, boolean dataOnly, long userData) {
        long at = claimSqe();
        if (at < 0) {
            return false;
        }
        // off and len 0: the whole file.
        writeSqe(at, Sqe.OP_FSYNC, fd, 0, 0, 0, dataOnly ? Sqe.FSYNC_DATASYNC : 0, userData);
        return true;
    }

    /**
     * Prepares a {@code fallocate(2)} of {@code fd} ({@code IORING_OP_FALLOCATE}), e.g. with
     * {@code FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE} to discard a range.
     *
     * @param mode {@code FALLOC_FL_*} flags, 0 to allocate
     * @return false, and nothing written, when no submission slot is free
     */
    public boolean prepareFallocate(int fd, int mode, long offset, long length, long userData) {
        long at = claimSqe();
        if (at < 0) {
            return false;
        }
        // The kernel takes fallocate's length in addr and its mode in len (io_fallocate_prep).
        writeSqe(at, Sqe.OP_FALLOCATE, fd, offset, length, mode, 0, userData);
        return true;
    }

    /**
     * Prepares a no-op ({@code IORING_OP_NOP}), which completes with result 0: a wake-up or a
     * marker in the completion stream.
     *
     * @return false, and nothing written, when no submission slot is free
     */
    public boolean prepareNop(long userData) {
        long at = claimSqe();
        if (at < 0) {
            return false;
        }
        writeSqe(at, Sqe.OP_NOP, -1, 0, 0, 0, 0, userData);
        return true;
    }

    /**
     * Hands the pending entries to the kernel ({@code io_uring_enter}); no system call when none
     * is pending (unless the kernel holds completions the CQ ring had no room for, which the
     * same call then moves into the ring). {@code EINTR} is retried. {@code EAGAIN} and
     * {@code EBUSY} (the kernel short of resources, or of room for completions) end the call
     * with what was submitted so far, the rest left pending: reap, then submit again. Entries the
     * kernel takes but cannot start (a bad descriptor) are submitted all the same: they complete
     * with {@code -errno}.
     *
     * @return the number of entries submitted
     * @throws ErrnoException if {@code io_uring_enter} fails otherwise ({@code EBADF},
     *     {@code EFAULT}, ...)
     */
    public int submit() throws ErrnoException {
        return submitPending(0, 0);
    }

    /**
     * {@link #submit()}, then waits until at least {@code minCompletions} completions are in the
     * ring, in the same system call when nothing gets in the way. Returns without waiting when
     * the kernel refused some entries ({@code EAGAIN}, {@code EBUSY}; see {@link #submit()}).
     * A signal that interrupts the wait does not end it. Waiting for more completions than are
     * in flight waits for ever.
     *
     * @param minCompletions 0 to {@link #completionEntries()}
     * @return the number of entries submitted
     * @throws ErrnoException if {@code io_uring_enter} fails with another errno than
     *     {@code EINTR}, {@code EAGAIN} or {@code EBUSY}
     */
    public int submitAndWait(int minCompletions) throws ErrnoException {
        if (minCompletions < 0 || minCompletions > cqEntries) {
            throw new IllegalArgumentException(
                    "minCompletions must be 0 to %d: %d".formatted(cqEntries, minCompletions));
        }
        int submitted = submitPending(minCompletions, ENTER_GETEVENTS);
        if (refused) {
            return submitted;
        }
        // Everything is submitted. The kernel waited in the same call unless there was nothing
        // to submit, or a signal cut the wait short (io_uring_enter then still returns the count
        // submitted, not EINTR): wait on until the ring holds enough.
        while (ready() < minCompletions) {
            int result = Syscalls.ioUringEnter(ringFd, 0, minCompletions, ENTER_GETEVENTS);
            if (result < 0 && result != -Errno.EINTR) {
                throw new ErrnoException("io_uring_enter", -result);
            }
        }
        return submitted;
    }

    /**
     * Calls {@code sink} for every completion in the ring now, in the ring's order, then frees
     * their slots. Allocates nothing (given a sink that does not). The sink may prepare and
     * submit, but must not reap or wait: the CQ slots being read are freed only at the end.
     * If the sink throws, the completions it was given, the one it threw on included, are
     * consumed and the rest stay in the ring.
     *
     * @return how many completions were reaped
     */
    public int reap(CompletionSink sink) {
        int head = cqHead;
        // Acquire: pairs with the kernel's release store of the CQ tail, after it wrote the
        // CQEs. Without it the CQE reads below could be satisfied before (or from a cache older
        // than) the tail read and return a stale user_data or res.
        int tail = (int) INDEX.getAcquire(cqRing, cqTailOffset);
        int count = tail - head;
        try {
            while (head != tail) {
                long at = cqesOffset + (head & cqMask) * Cqe.SIZE;
                long userData = cqRing.get(JAVA_LONG, at + Cqe.USER_DATA);
                int result = cqRing.get(JAVA_INT, at + Cqe.RES);
                head++;
                sink.completed(userData, result);
            }
        } finally {
            cqHead = head;
            // Release: the CQE reads above complete before the kernel can see their slots free.
            // Without it the head store could become visible first, and the kernel could post a
            // new completion into a slot still being read.
            INDEX.setRelease(cqRing, cqHeadOffset, head);
        }
        return count;
    }

    /** Completions in the ring not yet reaped. */
    public int ready() {
        // Acquire, as in reap: a caller that sees a count goes on to reap those entries.
        return (int) INDEX.getAcquire(cqRing, cqTailOffset) - cqHead;
    }

    /**
     * The ring's descriptor, for a thread to wait on with {@code poll(2)}: it is readable
     * ({@code POLLIN}) while the CQ ring holds completions not yet reaped, so waiting on it needs
     * no eventfd and no read to clear it; reaping clears it. It stays the ring's: do not close it.
     */
    public int fd() {
        if (closed.get()) {
            throw new IllegalStateException("the ring is closed");
        }
        return ringFd;
    }

    /**
     * Has the kernel signal {@code eventFd} for each completion it posts
     * ({@code IORING_REGISTER_EVENTFD}), so that a thread polling eventfds learns of completions
     * without waiting in the ring. One eventfd per ring. Before Linux 5.18 registering waits for
     * the operations in flight to finish: register before submitting.
     *
     * @throws ErrnoException e.g. {@code EBUSY} when one is registered already, {@code EBADF}
     */
    public void registerEventFd(int eventFd) throws ErrnoException {
        registerArgument.set(JAVA_INT, 0, eventFd);
        while (true) {
            int result = Syscalls.ioUringRegister(ringFd, REGISTER_EVENTFD, registerArgument, 1);
            if (result >= 0) {
                return;
            }
            if (result != -Errno.EINTR) {
                throw new ErrnoException("IORING_REGISTER_EVENTFD fd " + eventFd, -result);
            }
        }
    }

    /**
     * Unmaps the rings and closes the ring's descriptor; idempotent, and callable from any
     * thread once the owning thread has stopped using the ring (see the class comment).
     * Operations still in flight are cancelled or run to their end by the kernel.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        // Unmap first: a stray use of the ring from now on fails on the closed arena with an
        // IllegalStateException rather than on memory that is gone.
        arena.close();
        closeQuietly(ringFd);
    }

    @Override
    public String toString() {
        return "io_uring fd %d: %d SQ entries, %d CQ entries%s"
                .formatted(ringFd, sqEntries, cqEntries, closed.get() ? ", closed" : "");
    }

    /** The kernel's {@code IORING_FEAT_*} bits for this ring. */
    int features() {
        return features;
    }

    /**
     * One completion, handed to {@link #reap}. Implement it as a field of the owner (not a
     * lambda capturing per call) so that reaping allocates nothing.
     */
    @FunctionalInterface
    public interface CompletionSink {

        /**
         * One completion.
         *
         * @param userData what the entry was prepared with
         * @param result the operation's result: bytes moved, 0, or {@code -errno}
         */
        void completed(long userData, int result);
    }

    private boolean prepareVectored(byte opcode, int fd, MemorySegment iovecs, int count, long offset,
            long userData) {
        // The kernel reads count iovecs from the address: check they are all in the segment,
        // and that it is native memory with an address of its own (a heap segment has none).
        if (count < 0 || iovecs.byteSize() < Syscalls.IOVEC.byteSize() * count) {
            throw new IllegalArgumentException(
                    "iovec array of %d bytes holds fewer than %d entries".formatted(iovecs.byteSize(), count));
        }
        if (!iovecs.isNative()) {
            throw new IllegalArgumentException("iovecs must be in native memory, not a heap segment");
        }
        long at = claimSqe();
        if (at < 0) {
            return false;
        }
        writeSqe(at, opcode, fd, offset, iovecs.address(), count, 0, userData);
        return true;
    }

    /** The byte offset of the next free SQE slot, or -1 if the SQ is full. */
    private long claimSqe() {
        if (sqTail - sqHead == sqEntries) {
            // Full as last seen: the kernel may have consumed entries since.
            sqHead = loadSqHead();
            if (sqTail - sqHead == sqEntries) {
                return -1;
            }
        }
        return (sqTail & sqMask) * Sqe.SIZE;
    }

    /**
     * Writes every field of the SQE at {@code at}, then counts it as prepared. Plain stores:
     * the release store of the tail in {@link #submitPending} publishes them.
     */
    private void writeSqe(long at, byte opcode, int fd, long off, long addr, int len, int opFlags, long userData) {
        sqes.set(JAVA_BYTE, at + Sqe.OPCODE, opcode);
        sqes.set(JAVA_BYTE, at + Sqe.FLAGS, (byte) 0);
        sqes.set(JAVA_SHORT, at + Sqe.IOPRIO, (short) 0);
        sqes.set(JAVA_INT, at + Sqe.FD, fd);
        sqes.set(JAVA_LONG, at + Sqe.OFF, off);
        sqes.set(JAVA_LONG, at + Sqe.ADDR, addr);
        sqes.set(JAVA_INT, at + Sqe.LEN, len);
        sqes.set(JAVA_INT, at + Sqe.OP_FLAGS, opFlags);
        sqes.set(JAVA_LONG, at + Sqe.USER_DATA, userData);
        sqes.set(JAVA_SHORT, at + Sqe.BUF_INDEX, (short) 0);
        sqes.set(JAVA_SHORT, at + Sqe.PERSONALITY, (short) 0);
        sqes.set(JAVA_INT, at + Sqe.SPLICE_FD_IN, 0);
        sqes.set(JAVA_LONG, at + Sqe.ADDR3, 0L);
        sqes.set(JAVA_LONG, at + Sqe.PAD2, 0L);
        sqTail++;
    }

    /** The kernel's SQ head. */
    private int loadSqHead() {
        // Acquire: pairs with the kernel's release store of the SQ head once it has read the
        // entries before it. Without it, a prepare that finds a slot free could write the slot
        // before the head read completes, i.e. overwrite an SQE the kernel may still be reading.
        return (int) INDEX.getAcquire(sqRing, sqHeadOffset);
    }

    /** Whether the kernel holds completions that found the CQ ring full (IORING_FEAT_NODROP). */
    private boolean completionsOverflowed() {
        // Opaque (READ_ONCE): a hint, the kernel rechecks under its lock.
        return ((int) INDEX.getOpaque(sqRing, sqFlagsOffset) & IoUringParams.SQ_CQ_OVERFLOW) != 0;
    }

    /**
     * Publishes the prepared entries and submits them, retrying on EINTR and on a short count,
     * stopping on EAGAIN and EBUSY ({@link #refused}).
     */
    private int submitPending(int minComplete, int flags) throws ErrnoException {
        // Release: every SQE written since the last submit (and the index array, written once)
        // is visible to the kernel before the tail that covers it. Without it the kernel could
        // see the new tail first and read a half-written SQE.
        INDEX.setRelease(sqRing, sqTailOffset, sqTail);
        refused = false;
        int pending = pending();
        if (pending == 0) {
            if (completionsOverflowed()) {
                // Nothing to submit, but completions wait in the kernel's overflow list: a
                // GETEVENTS call moves what fits into the ring (it does not wait with min 0).
                int result = Syscalls.ioUringEnter(ringFd, 0, 0, ENTER_GETEVENTS);
                if (result < 0 && result != -Errno.EINTR) {
                    throw new ErrnoException("io_uring_enter", -result);
                }
            }
            return 0;
        }
        int submitted = 0;
        while (pending > 0) {
            int result = Syscalls.ioUringEnter(ringFd, pending,
                    minComplete, flags | (completionsOverflowed() ? ENTER_GETEVENTS : 0));
            if (result < 0) {
                int errno = -result;
                if (errno == Errno.EINTR) {
                    continue;
                }
                if (errno == Errno.EAGAIN || errno == Errno.EBUSY) {
                    refused = true;
                    break;
                }
                throw new ErrnoException("io_uring_enter", errno);
            }
            submitted += result;
            sqHead = loadSqHead();
            int left = sqTail - sqHead;
            // A short count with no error: before IORING_SETUP_SUBMIT_ALL (5.18) the kernel
            // stops at the first entry it cannot start (it completes that one with -errno);
            // the rest go in another call. A call that took nothing would only repeat itself.
            if (left == pending) {
                refused = true;
                break;
            }
            pending = left;
        }
        return submitted;
    }

    private static Availability probe() {
        if (!IoUring.class.getModule().isNativeAccessEnabled()) {
            return new Availability(false, "native access is not enabled: start java with "
                    + NativeAccessCheck.requiredFlag());
        }
        try (IoUring ring = open(2)) {
            int needed = IoUringParams.FEAT_NODROP | IoUringParams.FEAT_SUBMIT_STABLE;
            if ((ring.features & needed) != needed) {
                return new Availability(false, "io_uring_setup: features 0x%x lack IORING_FEAT_NODROP or"
                        .formatted(ring.features) + " IORING_FEAT_SUBMIT_STABLE (the kernel is older than 5.5)");
            }
            int lastOp;
            try (Arena scratch = Arena.ofConfined()) {
                // Zeroed, as the kernel requires of the whole probe.
                MemorySegment probe = scratch.allocate(Probe.SIZE, 8);
                int result = Syscalls.ioUringRegister(ring.ringFd, REGISTER_PROBE, probe, Probe.MAX_OPS);
                if (result == -Errno.EINVAL) {
                    return new Availability(false,
                            "IORING_REGISTER_PROBE: EINVAL, the kernel is older than 5.6");
                }
                if (result < 0) {
                    return new Availability(false, new ErrnoException("IORING_REGISTER_PROBE", -result).getMessage());
                }
                for (int opcode : OPCODES) {
                    if (!Probe.supports(probe, opcode)) {
                        return Availability.missingOpcode(opcode);
                    }
                }
                lastOp = Byte.toUnsignedInt(probe.get(JAVA_BYTE, Probe.LAST_OP));
            }
            // A seccomp filter may allow io_uring_setup and refuse io_uring_enter: send one no-op round.
            ring.prepareNop(0);
            ring.submitAndWait(1);
            int[] result = {Integer.MIN_VALUE};
            ring.reap((userData, res) -> result[0] = res);
            if (result[0] != 0) {
                return new Availability(false, "IORING_OP_NOP completed with " + result[0]);
            }
            return new Availability(true, "io_uring: available (features 0x%x, opcodes up to %d)"
                    .formatted(ring.features, lastOp));
        } catch (ErrnoException e) {
            if (e.operation().startsWith("io_uring_setup")) {
                return Availability.setupFailed(e.errno(), ioUringDisabledSysctl());
            }
            return new Availability(false, e.getMessage());
        } catch (RuntimeException e) {
            // A ring that does not add up (checkRing): not usable, and the log should say why.
            return new Availability(false, "io_uring: " + e.getMessage());
        }
    }

    /** The {@code kernel.io_uring_disabled} sysctl (Linux 6.6 on), or null where there is none. */
    private static String ioUringDisabledSysctl() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/io_uring_disabled")).trim();
        } catch (IOException e) {
            return null;
        }
    }

    private static void checkRing(String ring, int entries, int mask, int ringEntries) {
        if (entries < 1 || Integer.bitCount(entries) != 1 || mask != entries - 1 || ringEntries != entries) {
            throw new IllegalStateException("the kernel's %s ring does not add up: %d entries, mask 0x%x, ring_entries %d"
                    .formatted(ring, entries, mask, ringEntries));
        }
    }

    private static long offset(MemorySegment params, long field) {
        return Integer.toUnsignedLong(params.get(JAVA_INT, field));
    }

    @SuppressWarnings("restricted") // sizing an mmap result is what reinterpret is for
    private static MemorySegment map(int ringFd, long size, long offset, Arena arena) throws ErrnoException {
        MemorySegment address = Syscalls.mmap(size, Syscalls.PROT_READ | Syscalls.PROT_WRITE,
                Syscalls.MAP_SHARED | Syscalls.MAP_POPULATE, ringFd, offset);
        return address.reinterpret(size, arena, segment -> unmap(segment, size));
    }

    private static void unmap(MemorySegment segment, long size) {
        try {
            Syscalls.munmap(segment, size);
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "munmap of an io_uring mapping failed", e);
        }
    }

    private static void closeQuietly(int fd) {
        try {
            Syscalls.close(fd);
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "close of an io_uring descriptor failed", e);
        }
    }

    /** The probe's answer, computed when first asked for (class initialization is once and thread-safe). */
    private static final class Probed {
        static final Availability AVAILABILITY = probe();
    }
}
