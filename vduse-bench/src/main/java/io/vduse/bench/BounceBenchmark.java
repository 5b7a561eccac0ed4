package io.vduse.bench;

import io.vduse.api.Vduse;
import io.vduse.iova.DmaDirection;
import io.vduse.iova.IovaDomain;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The simulated kernel's streaming DMA: {@link IovaDomain#mapPage} then
 * {@link IovaDomain#unmapPage} of one buffer, which allocates a bounce IOVA, copies the buffer in
 * (to the device) or back (from the device) and frees the IOVA. This is the driver's (kernel's)
 * side of every request in the simulation, not the device's.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class BounceBenchmark {

    /** Buffer bytes. */
    @Param({"512", "4096", "65536"})
    public int size;

    /** {@code TO_DEVICE} copies on map, {@code FROM_DEVICE} on unmap. */
    @Param({"TO_DEVICE", "FROM_DEVICE"})
    public DmaDirection direction;

    private Arena arena;
    private IovaDomain domain;
    private MemorySegment buffer;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        domain = new IovaDomain(Vduse.DEFAULT_BOUNCE_SIZE, 1L << 20);
        buffer = arena.allocate(size, 8);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        domain.close();
        arena.close();
    }

    @Benchmark
    public long mapUnmap() {
        long iova = domain.mapPage(buffer, direction);
        domain.unmapPage(iova, size, direction);
        return iova;
    }
}
