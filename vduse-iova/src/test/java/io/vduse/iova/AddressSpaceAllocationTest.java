package io.vduse.iova;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.iova.PatternSource.Region;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A translation that hits the cache allocates nothing: measured with the JVM's per-thread
 * allocation counter across many hits, the total must stay a small constant (the counter's own
 * noise), where one allocation per hit would add megabytes. JMH in vduse-bench measures the
 * same with more rigour; this keeps it from regressing unnoticed.
 */
class AddressSpaceAllocationTest {

    private static final int HITS = 100_000;
    /** Far below one 16-byte object per hit (1.6 MB), far above the counter's jitter. */
    private static final long NOISE_BYTES = 4096;

    private static final long BASE = 0x4000_0000L;

    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private static List<Region> eightPages() {
        List<Region> regions = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            regions.add(new Region(BASE + i * 0x1000L, BASE + i * 0x1000L + 0xfff, i % 2 == 0 ? Access.READ : Access.READ_WRITE));
        }
        return regions;
    }

    @Test
    void cacheHitsDoNotAllocate() {
        assertThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        threads.setThreadAllocatedMemoryEnabled(true);
        PatternSource source = new PatternSource(eightPages());
        try (AddressSpace space = new AddressSpace(source); Arena arena = Arena.ofConfined()) {
            IovaPieces pieces = new IovaPieces(4);
            MemorySegment buffer = arena.allocate(64);
            MemorySegment[] slices = new MemorySegment[65];
            for (int n = 1; n <= 64; n++) {
                slices[n] = buffer.asSlice(0, n);
            }
            // Warm up: fill the cache and let the JIT compile the hit path.
            long keep = 0;
            for (int round = 0; round < 20; round++) {
                keep += hits(space, pieces, slices, HITS);
            }
            assertThat(source.resolves).hasValue(8);

            long before = threads.getCurrentThreadAllocatedBytes();
            keep += hits(space, pieces, slices, HITS);
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;

            assertThat(source.resolves).as("all hits").hasValue(8);
            assertThat(allocated).as("bytes allocated by %d hits (checksum %d)", HITS, keep).isLessThan(NOISE_BYTES);
        }
    }

    /**
     * Translations of every hot kind over eight cached mappings: single addresses, buffers
     * gathered across mappings, and copies; reads into pre-made slices so that the loop itself
     * allocates nothing. Returns a checksum to keep the work alive.
     */
    private static long hits(AddressSpace space, IovaPieces pieces, MemorySegment[] slices, int count) {
        long sum = 0;
        for (int i = 0; i < count; i++) {
            long iova = BASE + ((i * 4099L) & 0x7fff);
            sum += space.mapping(iova, Access.READ).start();
            if ((i & 7) == 0) {
                long length = Math.min(0x1800, BASE + 0x8000 - iova);
                sum += space.gather(iova, length, Access.READ, pieces);
                space.readBytes(iova, slices[(int) Math.min(64, length)]);
            }
        }
        return sum;
    }
}
