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
 * <p>The address space keeps a hint per hint page, as large as the smallest cached mapping. With
 * entries of one size ({@code 4}, {@code 1024}) each entry has a hint slot of its own: the hint
 * path. {@code 1024+4} is 1 MiB entries and one 4 KiB entry, which shrinks hint pages to 4 KiB:
 * the 4096 addresses then fall in 4096 different pages sharing the hint slots, so most lookups
 * miss the hint and search: the search path.
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

    /** The size of each entry, KiB; {@code 1024+4}: the last entry is 4 KiB. */
    @Param({"4", "1024", "1024+4"})
    public String entryKiB;

    private Arena arena;
    private AddressSpace addressSpace;
    private LinearScanIotlb linear;
    private long[] addresses;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        boolean oneSmall = entryKiB.endsWith("+4");
        long size = Long.parseLong(oneSmall ? entryKiB.substring(0, entryKiB.length() - 2) : entryKiB) * 1024;
        // Translation never touches the memory: every entry may show the same bytes.
        MemorySegment memory = arena.allocate(size, 4096);
        Mapping[] mappings = new Mapping[entries];
        for (int i = 0; i < entries; i++) {
            long start = BASE + 2 * size * i;
            boolean small = oneSmall && i == entries - 1;
            mappings[i] = small
                    ? new Mapping(start, start + 4095, Access.READ_WRITE, memory.asSlice(0, 4096))
                    : new Mapping(start, start + size - 1, Access.READ_WRITE, memory);
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
            Mapping m = mappings[random.nextInt(entries)];
            addresses[i] = m.start() + random.nextLong(m.last() - m.start() + 1);
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
