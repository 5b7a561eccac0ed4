package io.vduse.bench;

import io.vduse.iova.CoherentBuffer;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.DriverQueue;
import java.lang.foreign.MemorySegment;
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
 * Split and packed rings, one thread playing both ends: the driver adds a chain, the device pops
 * it and pushes it back, publishes, and the driver collects it. One op is one chain there and
 * back, so the figure includes the driver's share (add, kick decision, pollUsed); the device's
 * share is pop + push + publish + the notification calls. The chain's buffers are not touched:
 * this is the ring's overhead alone.
 *
 * <p>{@code single}: one chain per publish, as a device under light load does.
 * {@code batch32}: 32 chains added, popped, pushed, then one publish, as a queue worker does
 * under load.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class RingBenchmark {

    static final int QUEUE_SIZE = 256;
    static final int BATCH = 32;

    /** {@code split} or {@code packed}. */
    @Param({"split", "packed"})
    public String layout;

    /** Buffers per chain: 1 (one writable buffer) or 3 (header, data, status: a virtio-blk read). */
    @Param({"1", "3"})
    public int descriptors;

    /** {@code direct}: the buffers are ring descriptors; {@code indirect}: one ring descriptor points at a table. */
    @Param({"direct", "indirect"})
    public String chains;

    private RingMemory rings;
    private DriverQueue driver;
    private DeviceQueue device;
    private DescriptorChain[] popped;
    private long[] iovas;
    private int[] lengths;
    private int readable;
    private int writable;
    private boolean indirect;
    private long[] tableIovas;
    private MemorySegment[] tables;
    private int nextTable;

    @Setup(Level.Trial)
    public void setUp() {
        rings = new RingMemory(QUEUE_SIZE, layout.equals("packed"));
        driver = rings.driver;
        device = rings.device;
        popped = new DescriptorChain[BATCH];
        for (int i = 0; i < BATCH; i++) {
            popped[i] = device.newChain();
        }
        CoherentBuffer data = rings.alloc(64 * 1024);
        if (descriptors == 1) {
            iovas = new long[] {data.iova()};
            lengths = new int[] {4096};
            readable = 0;
            writable = 1;
        } else {
            iovas = new long[] {data.iova(), data.iova() + 4096, data.iova() + 8192};
            lengths = new int[] {16, 4096, 1};
            readable = 1;
            writable = 2;
        }
        indirect = chains.equals("indirect");
        // One table per chain that can be in flight at once.
        CoherentBuffer tableArea = rings.alloc(16L * descriptors * BATCH);
        tableIovas = new long[BATCH];
        tables = new MemorySegment[BATCH];
        for (int i = 0; i < BATCH; i++) {
            tableIovas[i] = tableArea.iova() + 16L * descriptors * i;
            tables[i] = tableArea.memory().asSlice(16L * descriptors * i, 16L * descriptors);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        rings.close();
    }

    private void add() {
        int id;
        if (indirect) {
            int t = nextTable;
            nextTable = (t + 1) & (BATCH - 1);
            id = driver.addIndirect(iovas, lengths, readable, writable, tableIovas[t], tables[t]);
        } else {
            id = driver.add(iovas, lengths, readable, writable);
        }
        if (id < 0) {
            throw new IllegalStateException("ring full");
        }
    }

    /** One chain: add, pop, push, publish, collect. */
    @Benchmark
    public int single() {
        add();
        driver.kickPrepare();
        DescriptorChain chain = popped[0];
        if (!device.pop(chain)) {
            throw new IllegalStateException("nothing popped");
        }
        device.push(chain, 0);
        device.publish();
        device.enableNotifications();
        int id = driver.pollUsed();
        if (id < 0) {
            throw new IllegalStateException("nothing used");
        }
        return id;
    }

    /** 32 chains: add them all, pop them all, push them all, one publish, collect them all. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int batch32() {
        for (int i = 0; i < BATCH; i++) {
            add();
        }
        driver.kickPrepare();
        device.disableNotifications();
        int n = 0;
        while (n < BATCH && device.pop(popped[n])) {
            n++;
        }
        for (int i = 0; i < n; i++) {
            device.push(popped[i], 0);
        }
        device.publish();
        device.enableNotifications();
        int sum = 0;
        for (int id; (id = driver.pollUsed()) >= 0; ) {
            sum += id;
        }
        return sum + n;
    }
}
