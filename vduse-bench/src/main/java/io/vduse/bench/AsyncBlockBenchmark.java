package io.vduse.bench;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.RamBlockHandler;
import io.vduse.core.Request;
import io.vduse.core.VduseDevice;
import io.vduse.core.sim.FixedRequest;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
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
 * The SDK's asynchronous path through the simulated stack: a 4 KiB virtio-blk read popped by the
 * queue's thread, handed by an {@link io.vduse.core.AsyncQueueHandler} to another thread, which
 * serves it ({@link RamBlockHandler}: header, 4 KiB copy into the driver's buffer, status) and
 * completes it; the queue's thread takes the completion from the lock-free hand-off, pushes,
 * publishes and injects the interrupt. The driver sends {@link FixedRequest}s, whose buffers stay
 * in coherent memory, and waits parked: nothing on its side allocates either, so {@code -prof gc}'s
 * B/op (all threads of the JVM) is the path's own. The completer is a single-producer,
 * single-consumer array, parked while empty, as a backend's submission thread would be.
 *
 * <p>{@code read4k}: one request at a time (a round trip across four threads: bench, queue,
 * completer, driver's interrupt thread); {@code read4kQd32}: 32 in flight, then wait for all.
 * Compare with {@link SimulatedBlockBenchmark}, whose RAM handler runs on the queue's thread and
 * whose driver allocates per request.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class AsyncBlockBenchmark {

    static final int QUEUE_DEPTH = 32;
    private static final long DISK_BYTES = 16L << 20;
    private static final int QUEUE_SIZE = 256;
    private static final String NAME = "bench-async";

    /** {@code split} or {@code packed}. */
    @Param({"split", "packed"})
    public String layout;

    private Arena arena;
    private VduseDevice device;
    private SimulatedDriver driver;
    private Completer completer;
    private final FixedRequest[] reads = new FixedRequest[QUEUE_DEPTH];

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        arena = Arena.ofShared();
        MemorySegment disk = arena.allocate(DISK_BYTES, 4096);
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(30));
        completer = new Completer(new RamBlockHandler(disk, "bench"), QUEUE_SIZE);
        long features = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
                | (layout.equals("packed") ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        device = VduseDevice.builder(NAME)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(features)
                .config(VirtioBlkConfig.ofCapacity(DISK_BYTES / VirtioBlk.SECTOR_SIZE).toBytes())
                .queues(1, QUEUE_SIZE)
                .asyncHandlers(index -> completer::hand)
                .start();
        driver = SimulatedDriver.attach(kernel, NAME, SimulatedDriver.Options.defaults().withQueueSize(QUEUE_SIZE));
        for (int i = 0; i < QUEUE_DEPTH; i++) {
            reads[i] = driver.fixedRequest(0, new int[] {16}, new int[] {4096, 1});
            MemorySegment header = reads[i].buffer(0);
            header.set(ValueLayout.JAVA_INT_UNALIGNED, 0, VirtioBlk.T_IN);
            header.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 8L * i);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        try {
            driver.close();
            device.close();
        } finally {
            completer.close();
            arena.close();
        }
    }

    @Benchmark
    public int read4k(DeviceThreadAllocation deviceThreads) throws Exception {
        driver.submit(reads[0]);
        int used = reads[0].await();
        deviceThreads.sample();
        return used;
    }

    @Benchmark
    @OperationsPerInvocation(QUEUE_DEPTH)
    public int read4kQd32(DeviceThreadAllocation deviceThreads) throws Exception {
        for (int i = 0; i < QUEUE_DEPTH; i++) {
            driver.submit(reads[i]);
        }
        int sum = 0;
        for (int i = 0; i < QUEUE_DEPTH; i++) {
            sum += reads[i].await();
        }
        deviceThreads.sample();
        return sum;
    }

    /**
     * The thread that serves and completes requests the queue's thread hands it: a
     * single-producer, single-consumer array of requests, the consumer parked while it is empty.
     * Named as the device's threads, so that {@link DeviceThreadAllocation} counts it.
     */
    static final class Completer implements AutoCloseable {
        private final RamBlockHandler handler;
        private final Request[] slots;
        private final int mask;
        /** Next slot to take (consumer) and next to fill (producer); each written by one thread. */
        private final AtomicLong head = new AtomicLong();
        private final AtomicLong tail = new AtomicLong();
        private volatile boolean parked;
        private volatile boolean running = true;
        private final Thread thread;

        Completer(RamBlockHandler handler, int capacity) {
            this.handler = handler;
            if (Integer.bitCount(capacity) != 1) {
                throw new IllegalArgumentException("capacity must be a power of two: " + capacity);
            }
            this.slots = new Request[capacity];
            this.mask = slots.length - 1;
            this.thread = Thread.ofPlatform().name(DeviceThreadAllocation.THREAD_PREFIX + "async-completer")
                    .daemon(true).start(this::run);
        }

        /** Takes {@code request} from the queue's thread; never more than the ring holds are in flight. */
        void hand(Request request) {
            long t = tail.get();
            if (t - head.get() == slots.length) {
                throw new IllegalStateException("more requests in flight than the completer holds");
            }
            slots[(int) t & mask] = request;
            // Volatile write, then volatile read; the consumer writes parked, then reads tail.
            tail.set(t + 1);
            if (parked) {
                LockSupport.unpark(thread);
            }
        }

        private void run() {
            while (running) {
                long h = head.get();
                if (h == tail.get()) {
                    parked = true;
                    if (h == tail.get() && running) {
                        LockSupport.park(this);
                    }
                    parked = false;
                    continue;
                }
                int slot = (int) h & mask;
                Request request = slots[slot];
                slots[slot] = null;
                head.set(h + 1);
                handler.handle(request.chain());
                request.complete();
            }
        }

        @Override
        public void close() {
            running = false;
            LockSupport.unpark(thread);
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
