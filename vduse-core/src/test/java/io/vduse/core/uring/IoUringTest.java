package io.vduse.core.uring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.EventFd;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.virtqueue.IoVectors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine against the test machine's kernel and real files (a JUnit temporary directory),
 * pipes and eventfds. A wait that never ends fails the test through the time-out instead of
 * hanging the build.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class IoUringTest {

    private static final int PAGE = 4096;

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();
    private final List<Integer> fds = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        for (int fd : fds) {
            try {
                Syscalls.close(fd);
            } catch (ErrnoException ignored) {
                // closed by the test
            }
        }
        arena.close();
    }

    @Test
    void theKernelRoundsEntriesUpAndGivesTwiceAsManyCompletions() throws Exception {
        IoUring ring = ring(3);
        assertThat(ring.submissionEntries()).isEqualTo(4);
        assertThat(ring.completionEntries()).isEqualTo(8);
        assertThat(ring.submissionSpace()).isEqualTo(4);
        assertThat(ring.pending()).isZero();
        assertThat(ring.ready()).isZero();
        assertThat(ring.submit()).as("nothing pending: no system call, nothing submitted").isZero();
        assertThatThrownBy(() -> IoUring.open(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> IoUring.open(IoUring.MAX_ENTRIES + 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void writevAndReadvRoundTripThroughSeveralIovecsAtOffsets() throws Exception {
        IoUring ring = ring(8);
        int fd = file("data");
        MemorySegment a = pattern(PAGE, 1);
        MemorySegment b = pattern(512, 2);
        MemorySegment c = pattern(1000, 3);
        IoVectors out = vectors(a, b, c);
        MemorySegment head = pattern(100, 4);
        IoVectors outHead = vectors(head);
        assertThat(ring.prepareWritev(fd, out.array(), out.count(), 2 * PAGE, 1)).isTrue();
        assertThat(ring.prepareWritev(fd, outHead.array(), outHead.count(), 0, 2)).isTrue();
        assertThat(ring.pending()).isEqualTo(2);
        Completions written = complete(ring, 2);
        assertThat(written.resultOf(1)).isEqualTo(PAGE + 512 + 1000);
        assertThat(written.resultOf(2)).isEqualTo(100);
        assertThat(Syscalls.size(fd)).isEqualTo(2 * PAGE + PAGE + 512 + 1000);

        // Read back split differently from how it was written.
        MemorySegment x = arena.allocate(3000, 8);
        MemorySegment y = arena.allocate(PAGE + 512 + 1000 - 3000, 8);
        IoVectors in = vectors(x, y);
        MemorySegment headIn = arena.allocate(100, 8);
        IoVectors inHead = vectors(headIn);
        ring.prepareReadv(fd, in.array(), in.count(), 2 * PAGE, 3);
        ring.prepareReadv(fd, inHead.array(), inHead.count(), 0, 4);
        Completions read = complete(ring, 2);
        assertThat(read.resultOf(3)).isEqualTo(PAGE + 512 + 1000);
        assertThat(read.resultOf(4)).isEqualTo(100);
        assertThat(concat(x, y)).isEqualTo(concat(a, b, c));
        assertThat(headIn.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(head.toArray(ValueLayout.JAVA_BYTE));

        // The bytes are in the file where the offsets say, not only in the ring's view of it.
        MemorySegment check = arena.allocate(PAGE + 512 + 1000, 8);
        assertThat(Syscalls.pread(fd, check, check.byteSize(), 2 * PAGE)).isEqualTo(check.byteSize());
        assertThat(check.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(concat(a, b, c));
    }

    @Test
    void fsyncAndFdatasyncCompleteWithZero() throws Exception {
        IoUring ring = ring(4);
        int fd = file("synced");
        Syscalls.pwrite(fd, pattern(PAGE, 5), PAGE, 0);
        ring.prepareFsync(fd, false, 10);
        ring.prepareFsync(fd, true, 11);
        Completions done = complete(ring, 2);
        assertThat(done.resultOf(10)).isZero();
        assertThat(done.resultOf(11)).isZero();
    }

    @Test
    void aPunchedHoleReadsBackAsZeroes() throws Exception {
        IoUring ring = ring(4);
        int fd = file("holes");
        MemorySegment full = arena.allocate(3 * PAGE, PAGE);
        full.fill((byte) 0x5a);
        Syscalls.pwrite(fd, full, full.byteSize(), 0);

        // Whether the temporary directory's file system punches holes at all, asked without the ring.
        int scratch = file("scratch");
        Syscalls.pwrite(scratch, full, PAGE, 0);
        int plainErrno = 0;
        try {
            Syscalls.fallocate(scratch, Syscalls.FALLOC_FL_PUNCH_HOLE | Syscalls.FALLOC_FL_KEEP_SIZE, 0, PAGE);
        } catch (ErrnoException e) {
            plainErrno = e.errno();
        }
        assumeThat(plainErrno).as("the temporary directory's file system punches holes").isZero();

        ring.prepareFallocate(fd, Syscalls.FALLOC_FL_PUNCH_HOLE | Syscalls.FALLOC_FL_KEEP_SIZE, PAGE, PAGE, 20);
        assertThat(complete(ring, 1).resultOf(20)).isZero();
        assertThat(Syscalls.size(fd)).as("FALLOC_FL_KEEP_SIZE").isEqualTo(3 * PAGE);

        MemorySegment back = arena.allocate(3 * PAGE, PAGE);
        back.fill((byte) 1);
        IoVectors in = vectors(back);
        ring.prepareReadv(fd, in.array(), in.count(), 0, 21);
        assertThat(complete(ring, 1).resultOf(21)).isEqualTo(3 * PAGE);
        assertThat(back.asSlice(0, PAGE).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x5a);
        assertThat(back.asSlice(PAGE, PAGE).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0);
        assertThat(back.asSlice(2 * PAGE, PAGE).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x5a);
    }

    @Test
    void aReadAcrossTheEndIsShortAndOneAtTheEndReadsNothing() throws Exception {
        IoUring ring = ring(4);
        int fd = file("short");
        MemorySegment content = pattern(3 * PAGE, 6);
        Syscalls.pwrite(fd, content, content.byteSize(), 0);
        MemorySegment buffer = arena.allocate(2 * PAGE, PAGE);
        IoVectors in = vectors(buffer);

        ring.prepareReadv(fd, in.array(), in.count(), 2 * PAGE, 30);
        assertThat(complete(ring, 1).resultOf(30)).as("8 KiB asked, 4 KiB left").isEqualTo(PAGE);
        assertThat(buffer.asSlice(0, PAGE).toArray(ValueLayout.JAVA_BYTE))
                .isEqualTo(content.asSlice(2 * PAGE, PAGE).toArray(ValueLayout.JAVA_BYTE));

        ring.prepareReadv(fd, in.array(), in.count(), 3 * PAGE, 31);
        ring.prepareReadv(fd, in.array(), in.count(), 10 * PAGE, 32);
        Completions atEnd = complete(ring, 2);
        assertThat(atEnd.resultOf(31)).as("at the end").isZero();
        assertThat(atEnd.resultOf(32)).as("past the end").isZero();
    }

    @Test
    void aFullSubmissionRingRefusesPreparesUntilSubmittedAndReaped() throws Exception {
        IoUring ring = ring(4);
        for (int i = 0; i < 4; i++) {
            assertThat(ring.submissionSpace()).isEqualTo(4 - i);
            assertThat(ring.prepareNop(i)).isTrue();
            assertThat(ring.pending()).isEqualTo(i + 1);
        }
        assertThat(ring.submissionSpace()).isZero();
        assertThat(ring.prepareNop(99)).as("no slot free").isFalse();
        assertThat(ring.prepareReadv(0, arena.allocate(16, 8), 1, 0, 99)).isFalse();
        assertThat(ring.prepareFsync(0, true, 99)).isFalse();
        assertThat(ring.prepareFallocate(0, 0, 0, 1, 99)).isFalse();
        assertThat(ring.pending()).isEqualTo(4);

        assertThat(ring.submit()).isEqualTo(4);
        assertThat(ring.pending()).isZero();
        assertThat(ring.submissionSpace()).as("submitted slots are free at once").isEqualTo(4);
        ring.submitAndWait(4);
        Completions done = new Completions();
        assertThat(ring.reap(done)).isEqualTo(4);
        assertThat(done.toString()).as("the refused prepares wrote nothing").isEqualTo("[0:0, 1:0, 2:0, 3:0]");
        assertThat(ring.ready()).isZero();
        for (int i = 0; i < 4; i++) {
            assertThat(ring.prepareNop(10 + i)).isTrue();
        }
        assertThat(complete(ring, 4).toString()).isEqualTo("[10:0, 11:0, 12:0, 13:0]");
    }

    @Test
    void aClosedDescriptorCompletesWithEbadfAndTheEntriesAfterItStillRun() throws Exception {
        IoUring ring = ring(4);
        int closed = Syscalls.dup(file("closed"));
        Syscalls.close(closed);
        IoVectors in = vectors(arena.allocate(PAGE, PAGE));
        ring.prepareNop(40);
        ring.prepareReadv(closed, in.array(), in.count(), 0, 41);
        ring.prepareNop(42);
        assertThat(ring.submit()).as("a failing entry is submitted, not thrown").isEqualTo(3);
        Completions done = complete(ring, 3);
        assertThat(done.resultOf(40)).isZero();
        assertThat(done.resultOf(41)).isEqualTo(-Errno.EBADF);
        assertThat(done.resultOf(42)).isZero();
    }

    @Test
    void aWriteToAPipeWithNoReaderCompletesWithEpipe() throws Throwable {
        // The kernel also raises SIGPIPE; the JVM's handler ignores it, so the test lives on.
        IoUring ring = ring(2);
        int[] pipe = pipe();
        Syscalls.close(pipe[0]);
        IoVectors out = vectors(pattern(10, 7));
        ring.prepareWritev(pipe[1], out.array(), out.count(), -1, 50);
        int result = complete(ring, 1).resultOf(50);
        assertThat(Errno.name(-result)).isEqualTo("EPIPE");
    }

    @Test
    void aReadOfADirectoryCompletesWithEisdir() throws Exception {
        IoUring ring = ring(2);
        int directory = Syscalls.open(dir.toString(), Syscalls.O_RDONLY | Syscalls.O_CLOEXEC, 0);
        fds.add(directory);
        IoVectors in = vectors(arena.allocate(PAGE, PAGE));
        ring.prepareReadv(directory, in.array(), in.count(), 0, 60);
        int result = complete(ring, 1).resultOf(60);
        assertThat(Errno.name(-result)).isIn("EISDIR", "EINVAL");
    }

    @Test
    void aRegisteredEventFdIsSignalledByACompletion() throws Exception {
        IoUring ring = ring(2);
        EventFd eventFd = new EventFd();
        closeables.add(eventFd);
        ring.registerEventFd(eventFd.fd());
        assertThat(eventFd.drain()).as("registering signals nothing").isZero();

        ring.prepareNop(70);
        ring.submit();
        MemorySegment pollfd = arena.allocate(Syscalls.POLLFD);
        pollfd.set(ValueLayout.JAVA_INT, 0, eventFd.fd());
        pollfd.set(ValueLayout.JAVA_SHORT, 4, Syscalls.POLLIN);
        assertThat(Syscalls.poll(pollfd, 1, 10_000)).isEqualTo(1);
        assertThat(eventFd.drain()).isEqualTo(1);
        assertThat(complete(ring, 1).resultOf(70)).isZero();
    }

    @Test
    void theRingIsReadableWhileCompletionsWaitAndNotOnceTheyAreReaped() throws Exception {
        IoUring ring = ring(4);
        MemorySegment pollfd = arena.allocate(Syscalls.POLLFD);
        pollfd.set(ValueLayout.JAVA_INT, 0, ring.fd());
        pollfd.set(ValueLayout.JAVA_SHORT, 4, Syscalls.POLLIN);
        assertThat(Syscalls.poll(pollfd, 1, 0)).as("an empty ring").isZero();

        ring.prepareNop(1);
        ring.prepareNop(2);
        ring.submit();
        assertThat(Syscalls.poll(pollfd, 1, 10_000)).isEqualTo(1);
        assertThat(pollfd.get(ValueLayout.JAVA_SHORT, 6) & Syscalls.POLLIN).isEqualTo(Syscalls.POLLIN);
        assertThat(Syscalls.poll(pollfd, 1, 0)).as("level-triggered: still readable, nothing was read").isEqualTo(1);

        assertThat(complete(ring, 2).toString()).isEqualTo("[1:0, 2:0]");
        assertThat(Syscalls.poll(pollfd, 1, 0)).as("reaping is what clears it").isZero();
    }

    @Test
    void theDescriptorOfAClosedRingIsRefused() throws Exception {
        IoUring ring = IoUring.open(2);
        ring.close();
        assertThatThrownBy(ring::fd).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void registeringAnEventFdThatIsNoneThrowsNamingTheCall() throws Exception {
        IoUring ring = ring(2);
        assertThatThrownBy(() -> ring.registerEventFd(-1))
                .isInstanceOfSatisfying(ErrnoException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.EBADF);
                    assertThat(e.getMessage()).startsWith("IORING_REGISTER_EVENTFD fd -1: EBADF");
                });
    }

    @Test
    void submitAndWaitWaitsForTheCompletion() throws Throwable {
        IoUring ring = ring(2);
        int[] pipe = pipe();
        MemorySegment buffer = arena.allocate(64, 8);
        IoVectors in = vectors(buffer);
        AtomicBoolean written = new AtomicBoolean();
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(100);
                written.set(true);
                MemorySegment hello = arena.allocateFrom("hello", StandardCharsets.US_ASCII);
                Syscalls.write(pipe[1], hello, 5);
            } catch (Throwable t) {
                writerFailure.set(t);
            }
        });
        try {
            ring.prepareReadv(pipe[0], in.array(), in.count(), -1, 80);
            assertThat(ring.submitAndWait(1)).isEqualTo(1);
            assertThat(written).as("the wait ended only after the write").isTrue();
            assertThat(ring.ready()).isEqualTo(1);
            Completions done = new Completions();
            ring.reap(done);
            assertThat(done.resultOf(80)).isEqualTo(5);
            assertThat(buffer.getString(0, StandardCharsets.US_ASCII)).isEqualTo("hello");
        } finally {
            writer.join();
        }
        assertThat(writerFailure.get()).isNull();
    }

    @Test
    void manyMoreOperationsThanEntriesGoThroughInOrder() throws Exception {
        IoUring ring = ring(8);
        int total = 100_000;
        InOrder sink = new InOrder();
        long prepared = 0;
        int inFlight = 0;
        while (sink.next < total) {
            while (prepared < total && ring.prepareNop(prepared)) {
                prepared++;
            }
            inFlight += ring.submit();
            if (inFlight > 0 && ring.ready() == 0) {
                ring.submitAndWait(1);
            }
            inFlight -= ring.reap(sink);
            assertThat(inFlight).isNotNegative();
            assertThat(sink.failure).isNull();
        }
        assertThat(sink.next).isEqualTo(total);
        assertThat(prepared).isEqualTo(total);
        assertThat(inFlight).isZero();
        assertThat(ring.pending()).isZero();
        assertThat(ring.ready()).isZero();
        assertThat(ring.submissionSpace()).isEqualTo(8);
    }

    @Test
    void completionsThatFindTheRingFullAreNotLost() throws Exception {
        // 6 completions for a CQ ring of 4: the kernel keeps 2 aside (IORING_FEAT_NODROP) and
        // flags the overflow; submit() has it move them into the ring once there is room, even
        // with nothing to submit.
        IoUring ring = ring(2);
        assertThat(ring.completionEntries()).isEqualTo(4);
        int prepared = 0;
        Completions done = new Completions();
        for (int round = 0; round < 20 && done.count() < 6; round++) {
            while (prepared < 6 && ring.prepareNop(prepared)) {
                prepared++;
            }
            ring.submit();
            if (round >= 3) {
                ring.reap(done);
            }
        }
        assertThat(done.toString()).isEqualTo("[0:0, 1:0, 2:0, 3:0, 4:0, 5:0]");
    }

    @Test
    void aSignalDuringTheWaitDoesNotEndIt() throws Throwable {
        // The premise: a signal ends the kernel's wait with EINTR (HotSpot's handlers are
        // SA_RESTART, but io_uring_enter's wait returns EINTR rather than restarting). Seen with
        // the bare system call first; where the kernel restarts instead, there is nothing to test.
        IoUring bare = ring(2);
        int[] barePipe = pipe();
        IoVectors bareIn = vectors(arena.allocate(8, 8));
        bare.prepareReadv(barePipe[0], bareIn.array(), bareIn.count(), -1, 1);
        bare.submit();
        AtomicLong bareResult = new AtomicLong(Long.MIN_VALUE);
        Waiter bareWaiter = new Waiter(() -> bareResult.set(Syscalls.ioUringEnter(bare.fd(), 0, 1, 1)));
        bareWaiter.signalUntilDone(20);
        if (bareWaiter.thread.isAlive()) {
            Syscalls.write(barePipe[1], pattern(8, 1), 8);
            bareWaiter.thread.join();
        }
        assumeThat(bareResult.get()).as("a signal ends io_uring_enter's wait with EINTR").isEqualTo(-Errno.EINTR);

        IoUring ring = ring(2);
        int[] pipe = pipe();
        MemorySegment buffer = arena.allocate(8, 8);
        IoVectors in = vectors(buffer);
        ring.prepareReadv(pipe[0], in.array(), in.count(), -1, 90);
        AtomicLong submitted = new AtomicLong(-1);
        Waiter waiter = new Waiter(() -> submitted.set(ring.submitAndWait(1)));
        waiter.signalUntilDone(10);
        assertThat(waiter.thread.isAlive()).as("still waiting after 10 signals").isTrue();
        Syscalls.write(pipe[1], pattern(8, 2), 8);
        waiter.thread.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(waiter.failure.get()).isNull();
        assertThat(submitted.get()).isEqualTo(1);
        Completions done = new Completions();
        ring.reap(done);
        assertThat(done.resultOf(90)).isEqualTo(8);
    }

    @Test
    void iovecsThatDoNotHoldCountEntriesAreRefusedBeforeTheKernelSeesThem() throws Exception {
        IoUring ring = ring(2);
        assertThatThrownBy(() -> ring.prepareReadv(0, arena.allocate(16, 8), 2, 0, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ring.prepareWritev(0, MemorySegment.ofArray(new long[4]), 2, 0, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ring.prepareWritev(0, arena.allocate(16, 8), -1, 0, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(ring.pending()).isZero();
    }

    @Test
    void closeIsIdempotentAndTheRingIsUnusableAfterIt() throws Exception {
        IoUring ring = IoUring.open(2);
        ring.prepareNop(1);
        ring.submitAndWait(1);
        ring.close();
        ring.close();
        assertThat(ring.toString()).endsWith("closed");
        assertThatThrownBy(() -> ring.prepareNop(2)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(ring::submit).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(ring::ready).isInstanceOf(IllegalStateException.class);
    }

    /** Checks that every completion is the next no-op, with result 0; records the first that is not. */
    private static final class InOrder implements IoUring.CompletionSink {
        long next;
        String failure;

        @Override
        public void completed(long userData, int result) {
            if (failure == null && (userData != next || result != 0)) {
                failure = "expected " + next + ":0, got " + userData + ":" + result;
            }
            next++;
        }
    }

    /** A call that may fail. */
    private interface Call {
        void run() throws Exception;
    }

    /** A thread making one blocking call, and signals sent to it while it is in the call. */
    private static final class Waiter {
        final Thread thread;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final AtomicLong pthread = new AtomicLong();
        private final CountDownLatch started = new CountDownLatch(1);

        Waiter(Call call) {
            thread = Thread.ofPlatform().daemon().start(() -> {
                try {
                    pthread.set(TestNative.pthreadSelf());
                    started.countDown();
                    call.run();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
        }

        /** Sends up to {@code count} SIGPIPEs, 50 ms apart, while the thread is alive. */
        void signalUntilDone(int count) throws Throwable {
            started.await();
            Thread.sleep(100);
            for (int i = 0; i < count && thread.isAlive(); i++) {
                TestNative.pthreadKill(pthread.get(), TestNative.SIGPIPE);
                thread.join(50);
            }
        }
    }

    private IoUring ring(int entries) throws ErrnoException {
        IoUring ring = IoUring.open(entries);
        closeables.add(ring);
        return ring;
    }

    private int file(String name) throws Exception {
        Path path = dir.resolve(name);
        Files.deleteIfExists(path);
        int fd = Syscalls.open(path.toString(), Syscalls.O_RDWR | Syscalls.O_CREAT | Syscalls.O_CLOEXEC, 0644);
        fds.add(fd);
        return fd;
    }

    private int[] pipe() throws Throwable {
        int[] pipe = TestNative.pipe();
        fds.add(pipe[0]);
        fds.add(pipe[1]);
        return pipe;
    }

    /** {@code size} bytes of a pattern that differs per {@code seed} and along the buffer. */
    private MemorySegment pattern(int size, int seed) {
        MemorySegment segment = arena.allocate(size, 8);
        for (int i = 0; i < size; i++) {
            segment.set(ValueLayout.JAVA_BYTE, i, (byte) (seed * 31 + i * 7 + (i >> 8)));
        }
        return segment;
    }

    private static IoVectors vectors(MemorySegment... pieces) {
        IoVectors vectors = new IoVectors(pieces.length, 1);
        for (MemorySegment piece : pieces) {
            assertThat(vectors.add(piece.address(), piece.byteSize())).isTrue();
        }
        return vectors;
    }

    private static byte[] concat(MemorySegment... pieces) {
        int size = 0;
        for (MemorySegment piece : pieces) {
            size += (int) piece.byteSize();
        }
        byte[] all = new byte[size];
        int at = 0;
        for (MemorySegment piece : pieces) {
            MemorySegment.copy(piece, ValueLayout.JAVA_BYTE, 0, all, at, (int) piece.byteSize());
            at += (int) piece.byteSize();
        }
        return all;
    }

    /** Submits what is pending and reaps until {@code expected} completions came. */
    private static Completions complete(IoUring ring, int expected) throws ErrnoException {
        Completions done = new Completions();
        ring.submit();
        while (done.count() < expected) {
            ring.submitAndWait(1);
            ring.reap(done);
        }
        assertThat(done.count()).isEqualTo(expected);
        return done;
    }
}
