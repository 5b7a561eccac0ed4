package io.vduse.bench;

import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.core.uring.IoUring;
import io.vduse.virtqueue.IoVectors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The io_uring engine ({@link IoUring}) on one thread, one ring: per op a
 * {@code prepareReadv} of 4 KiB from a tmpfs file (in {@code /dev/shm}, else the temporary
 * directory), then {@code submitAndWait(1)} (one {@code io_uring_enter} that submits and, were
 * the read not done inline, waits) and a {@code reap} (a {@code nop} variant: the same with
 * {@code IORING_OP_NOP}, the engine's own cost plus the system call); 32 reads prepared, submitted
 * in one call and reaped ({@code readv4kBatch32}, per read); and, for scale, the synchronous
 * {@code preadv(2)} vduse-blk makes today ({@code preadv4k}). The page read moves through the
 * file's 1 MiB so that the reads are not all of one page. {@code -prof gc}'s B/op is the
 * engine's: nothing else runs.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
// The forked JVM runs on the class path; the ring's system calls and mappings are native.
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class IoUringBenchmark {

    private static final int BLOCK = 4096;
    private static final int FILE_BLOCKS = 256;
    private static final int BATCH = 32;

    /**
     * Where the file is made: tmpfs by default (as the guest comparison's image), else the
     * temporary directory where there is no {@code /dev/shm}; {@code -p dir=/tmp} for another.
     */
    @Param({"/dev/shm"})
    public String dir;

    private Arena arena;
    private Path path;
    private int fd;
    private IoUring ring;
    private IoVectors vectors;
    private IoVectors[] batchVectors;
    private final Sink sink = new Sink();
    private long sequence;

    /** Keeps the last completion, so that the benchmark can check it and JMH can consume it. */
    private static final class Sink implements IoUring.CompletionSink {
        long userData;
        int result;

        @Override
        public void completed(long data, int res) {
            userData = data;
            result = res;
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        if (!IoUring.availability().available()) {
            throw new IllegalStateException(IoUring.availability().reason());
        }
        arena = Arena.ofShared();
        Path where = Files.isDirectory(Path.of(dir)) ? Path.of(dir) : Path.of(System.getProperty("java.io.tmpdir"));
        path = Files.createTempFile(where, "vduse-bench-uring", ".img");
        fd = Syscalls.open(path.toString(), Syscalls.O_RDWR | Syscalls.O_CLOEXEC, 0);
        MemorySegment content = arena.allocate((long) BLOCK * FILE_BLOCKS, BLOCK);
        for (long i = 0; i < content.byteSize(); i += 8) {
            content.set(ValueLayout.JAVA_LONG, i, i * 0x9e3779b97f4a7c15L);
        }
        Syscalls.pwrite(fd, content, content.byteSize(), 0);
        ring = IoUring.open(64);
        vectors = vectorOver(arena.allocate(BLOCK, BLOCK));
        batchVectors = new IoVectors[BATCH];
        for (int i = 0; i < BATCH; i++) {
            batchVectors[i] = vectorOver(arena.allocate(BLOCK, BLOCK));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        ring.close();
        Syscalls.close(fd);
        Files.deleteIfExists(path);
        arena.close();
    }

    /** One 4 KiB readv: prepare, one io_uring_enter, reap. */
    @Benchmark
    public int readv4k() throws ErrnoException {
        long seq = sequence++;
        ring.prepareReadv(fd, vectors.array(), 1, offset(seq), seq);
        ring.submitAndWait(1);
        ring.reap(sink);
        return check(seq);
    }

    /** One no-op through the ring: the engine and the system call, no I/O. */
    @Benchmark
    public int nop() throws ErrnoException {
        long seq = sequence++;
        ring.prepareNop(seq);
        ring.submitAndWait(1);
        ring.reap(sink);
        if (sink.userData != seq || sink.result != 0) {
            throw new IllegalStateException("nop %d completed as %d: %d".formatted(seq, sink.userData, sink.result));
        }
        return sink.result;
    }

    /** 32 reads of 4 KiB each into a buffer of its own, submitted in one call; per read. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int readv4kBatch32() throws ErrnoException {
        long first = sequence;
        for (int i = 0; i < BATCH; i++) {
            long seq = sequence++;
            ring.prepareReadv(fd, batchVectors[i].array(), 1, offset(seq), seq);
        }
        ring.submitAndWait(BATCH);
        int reaped = ring.reap(sink);
        if (reaped != BATCH || sink.result != BLOCK) {
            throw new IllegalStateException("batch from %d: %d reaped, last result %d".formatted(first, reaped, sink.result));
        }
        return sink.result;
    }

    /** The synchronous baseline: one preadv(2) of 4 KiB. */
    @Benchmark
    public long preadv4k() throws ErrnoException {
        return Syscalls.preadv(fd, vectors.array(), 1, offset(sequence++));
    }

    private static long offset(long seq) {
        return (seq % FILE_BLOCKS) * BLOCK;
    }

    private int check(long seq) {
        if (sink.userData != seq || sink.result != BLOCK) {
            throw new IllegalStateException("read %d completed as %d: %d".formatted(seq, sink.userData, sink.result));
        }
        return sink.result;
    }

    private static IoVectors vectorOver(MemorySegment buffer) {
        IoVectors v = new IoVectors(1, 1);
        v.add(buffer.address(), buffer.byteSize());
        return v;
    }
}
