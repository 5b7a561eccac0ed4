package io.vduse.bench;

import io.vduse.api.Vduse;
import io.vduse.api.VqState;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The message channel's round trip: the simulated kernel queues a control message, the device's
 * message loop reads it from the device file, answers, and the kernel side wakes with the
 * answer. Not a per-request path: here for the latency of control operations.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
// Each op crosses threads: the JIT needs longer to settle all of them.
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 1)
// The forked JVM runs on the class path; the SDK's eventfds, poll and memfd mappings are native calls.
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class MessageBenchmark {

    private SimulatedBlockDevice blk;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        blk = new SimulatedBlockDevice("bench-msg", false);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        blk.close();
    }

    /** {@code VDUSE_GET_VQ_STATE}: the queue worker's state, read between two passes. */
    @Benchmark
    public VqState getVqState(DeviceThreadAllocation device) throws Exception {
        VqState state = blk.driver.queueState(0);
        device.sample();
        return state;
    }

    /**
     * {@code VDUSE_UPDATE_IOTLB} for a range nothing is mapped in: the device holds its workers,
     * invalidates and rebuilds its rings over fresh translations.
     */
    @Benchmark
    public void updateIotlb(DeviceThreadAllocation device) throws Exception {
        long above = Vduse.DEFAULT_BOUNCE_SIZE + Vduse.COHERENT_SIZE;
        blk.driver.updateIotlb(above, above + 4095);
        device.sample();
    }
}
