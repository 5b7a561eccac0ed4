package io.vduse.bench;

import io.vduse.iova.Access;
import io.vduse.iova.AddressSpace;
import io.vduse.iova.Mapping;
import io.vduse.iova.MappingSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.Random;
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
 * IOTLB translation hits: {@link AddressSpace#mapping} (lock-free snapshot, per-page hints,
 * binary search) against {@link LinearScanIotlb} (libvduse's walk over its regions), over the
 * same {@code entries} cached mappings of {@code entryKiB} each with holes of the same size
 * between them. Each op translates the next of 4096 addresses drawn uniformly over all entries,
 * so a scan walks half the table on average and the branch predictor cannot learn the answer.
 *
 * <p>With 4 KiB entries the 4096 addresses fall in at most 256 pages, each with a hint slot of
 * its own: the hint path. With 1 MiB entries they fall in 4096 different pages sharing the
 * address space's hint slots, so most lookups miss the hint: the search path.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class IotlbBenchmark {

    private static final int ADDRESSES = 4096;
    private static final long BASE = 0x10_0000L;

    /** Cached IOTLB entries. */
    @Param({"1", "256"})
    public int entries;

    /** The size of each entry, KiB. */
    @Param({"4", "1024"})
    public int entryKiB;

    private Arena arena;
    private AddressSpace addressSpace;
    private LinearScanIotlb linear;
    private long[] addresses;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        long size = entryKiB * 1024L;
        // Translation never touches the memory: every entry may show the same bytes.
        MemorySegment memory = arena.allocate(size, 4096);
        Mapping[] mappings = new Mapping[entries];
        for (int i = 0; i < entries; i++) {
            long start = BASE + 2 * size * i;
            mappings[i] = new Mapping(start, start + size - 1, Access.READ_WRITE, memory);
        }
        addressSpace = new AddressSpace(new MappingSource() {
            @Override
            public Optional<Mapping> resolve(long iova) {
                for (Mapping m : mappings) {
                    if (m.contains(iova)) {
                        return Optional.of(m);
                    }
                }
                return Optional.empty();
            }

            @Override
            public void release(Mapping mapping) {}
        });
        for (Mapping m : mappings) {
            addressSpace.mapping(m.start(), Access.READ); // fill the cache: every op below hits
        }
        linear = new LinearScanIotlb(mappings);
        Random random = new Random(42);
        addresses = new long[ADDRESSES];
        for (int i = 0; i < ADDRESSES; i++) {
            addresses[i] = BASE + 2 * size * random.nextInt(entries) + random.nextLong(size);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        addressSpace.close();
        arena.close();
    }

    private long nextAddress() {
        int i = next;
        next = (i + 1) & (ADDRESSES - 1);
        return addresses[i];
    }

    /** The SDK's translation. */
    @Benchmark
    public long addressSpace() {
        long iova = nextAddress();
        return addressSpace.mapping(iova, Access.READ).offsetOf(iova);
    }

    /** The libvduse-style linear scan. */
    @Benchmark
    public long linearScan() {
        long iova = nextAddress();
        return linear.mapping(iova, Access.READ).offsetOf(iova);
    }
}
