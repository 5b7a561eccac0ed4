package io.vduse.bench;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.CompletableFuture;
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
 * A 4 KiB virtio-blk read and write through the whole simulated stack, one request at a time:
 * the {@link io.vduse.core.sim.SimulatedDriver} bounce-maps the buffers, adds the chain and
 * kicks an eventfd; the device's queue worker wakes, pops, translates, copies, pushes and
 * injects the interrupt; the driver's interrupt thread collects the chain, copies the bounce
 * pages back and completes the future this thread waits on. So an op is a round trip across
 * three threads; {@code -prof gc}'s B/op counts all of them, the driver's futures and byte
 * arrays included (see {@link BlockDeviceSideBenchmark} for the device side alone).
 *
 * <p>{@code device=ram} is the core tests' RAM handler, which copies through the chain's reader
 * and writer; {@code device=blk-file} is vduse-blk's device over a file in the temporary directory
 * (not a tmpfs, where it would not be served on io_uring) on its default engine, io_uring ({@code READV}/{@code WRITEV} submitted and reaped on the queue's thread), and
 * {@code blk-file-sync} over a tmpfs file on {@code --aio sync} ({@code preadv}/{@code pwritev}); both move
 * the data straight from the mapped buffers, and their device-thread B/op is the reference
 * device's own request path.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
// Each op crosses threads: the JIT needs longer to settle all of them.
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 1)
// The forked JVM runs on the class path; the SDK's eventfds, poll and memfd mappings are native calls.
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SimulatedBlockBenchmark {

    private static final int[] READ_WRITABLE = {4096, 1};
    private static final int[] WRITE_WRITABLE = {1};
    private static final int QUEUE_DEPTH = 32;

    /** {@code split} or {@code packed}. */
    @Param({"split", "packed"})
    public String layout;

    /** {@code ram}, {@code blk-file} (io_uring) or {@code blk-file-sync} (see the class comment). */
    @Param({"ram", "blk-file", "blk-file-sync"})
    public String device;

    private SimulatedBlockDevice blk;
    private List<byte[]> readRequest;
    private List<byte[]> writeRequest;
    @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type
    private final CompletableFuture<Completion>[] inFlight = new CompletableFuture[QUEUE_DEPTH];

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        blk = new SimulatedBlockDevice("bench-blk", layout.equals("packed"), SimulatedBlockDevice.Kind.of(device));
        readRequest = List.of(header(VirtioBlk.T_IN, 8));
        writeRequest = List.of(header(VirtioBlk.T_OUT, 16), new byte[4096]);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        blk.close();
    }

    static byte[] header(int type, long sector) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
    }

    @Benchmark
    public int read4k(DeviceThreadAllocation deviceThreads) throws Exception {
        Completion c = blk.driver.submit(0, readRequest, READ_WRITABLE).get();
        deviceThreads.sample();
        return c.usedLength();
    }

    @Benchmark
    public int write4k(DeviceThreadAllocation deviceThreads) throws Exception {
        Completion c = blk.driver.submit(0, writeRequest, WRITE_WRITABLE).get();
        deviceThreads.sample();
        return c.usedLength();
    }

    /**
     * 32 reads in flight at once, then wait for all: the wake-ups (kick, worker, interrupt,
     * future) are shared by up to 32 requests instead of paid by each.
     */
    @Benchmark
    @OperationsPerInvocation(QUEUE_DEPTH)
    public int read4kQd32(DeviceThreadAllocation deviceThreads) throws Exception {
        for (int i = 0; i < QUEUE_DEPTH; i++) {
            inFlight[i] = blk.driver.submit(0, readRequest, READ_WRITABLE);
        }
        int sum = 0;
        for (int i = 0; i < QUEUE_DEPTH; i++) {
            sum += inFlight[i].get().usedLength();
            inFlight[i] = null;
        }
        deviceThreads.sample();
        return sum;
    }
}
