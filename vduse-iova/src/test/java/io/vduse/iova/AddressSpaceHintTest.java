package io.vduse.iova;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The translation hints of {@link AddressSpace}, whose page grows with the smallest cached
 * mapping: with mappings of tens or hundreds of KiB, some adjacent (one hint page then holds two
 * of them), at unaligned addresses, every lookup still finds exactly the mapping that holds the
 * address, from the cache, and a hole still faults. A small mapping arriving shrinks the hint page
 * and changes nothing else.
 */
class AddressSpaceHintTest {

    private record Entry(long start, long last) {}

    /** Serves {@code layout} over slices of one arena; counts resolves. */
    private static final class SliceSource implements MappingSource {
        final List<Entry> layout = new ArrayList<>();
        final AtomicInteger resolves = new AtomicInteger();
        private final Arena arena = Arena.ofConfined();

        @Override
        public Optional<Mapping> resolve(long iova) {
            for (Entry e : layout) {
                if (Ranges.contains(e.start(), e.last(), iova)) {
                    resolves.incrementAndGet();
                    MemorySegment memory = arena.allocate(e.last() - e.start() + 1);
                    return Optional.of(new Mapping(e.start(), e.last(), Access.READ_WRITE, memory));
                }
            }
            return Optional.empty();
        }

        @Override
        public void release(Mapping mapping) {}
    }

    private static Entry holding(List<Entry> layout, long iova) {
        for (Entry e : layout) {
            if (Ranges.contains(e.start(), e.last(), iova)) {
                return e;
            }
        }
        return null;
    }

    private static void lookUp(AddressSpace space, List<Entry> layout, long iova) {
        Entry expected = holding(layout, iova);
        try {
            Mapping m = space.mapping(iova, Access.READ);
            assertThat(expected).as("0x%x translated but lies in a hole", iova).isNotNull();
            assertThat(m.start()).as("mapping found for 0x%x", iova).isEqualTo(expected.start());
        } catch (IovaFault f) {
            assertThat(expected).as("0x%x faulted but is mapped", iova).isNull();
            assertThat(f.reason()).isEqualTo(IovaFault.Reason.UNMAPPED);
        }
    }

    @Test
    void everyLookupFindsTheMappingThatHoldsTheAddress() {
        SeededCases.run(40, random -> {
            SliceSource source = new SliceSource();
            long at = 0x4000_0000L + random.nextInt(1 << 20);
            int count = 20 + random.nextInt(40);
            for (int i = 0; i < count; i++) {
                long size = (16 << 10) + random.nextInt(240 << 10);
                source.layout.add(new Entry(at, at + size - 1));
                // A third of the mappings touch the next one: a hint page then spans both.
                at += size + (random.nextInt(3) == 0 ? 0 : random.nextInt(1 << 20));
            }
            long span = at - source.layout.getFirst().start();
            try (AddressSpace space = new AddressSpace(source); source.arena) {
                for (Entry e : source.layout) {
                    space.mapping(e.start(), Access.READ);
                }
                int resolved = source.resolves.get();
                for (int i = 0; i < 20_000; i++) {
                    long iova;
                    if (random.nextInt(5) == 0) {
                        iova = source.layout.getFirst().start() + random.nextLong(span);
                    } else {
                        Entry e = source.layout.get(random.nextInt(count));
                        iova = e.start() + random.nextLong(e.last() - e.start() + 1);
                    }
                    lookUp(space, source.layout, iova);
                }
                assertThat(source.resolves.get()).as("every mapping came from the cache").isEqualTo(resolved);

                // A page-sized mapping below the others: hint pages shrink to 4 KiB.
                Entry small = new Entry(0x1000, 0x1fff);
                source.layout.add(small);
                lookUp(space, source.layout, 0x1800);
                for (int i = 0; i < 5_000; i++) {
                    Entry e = source.layout.get(random.nextInt(source.layout.size()));
                    lookUp(space, source.layout, e.start() + random.nextLong(e.last() - e.start() + 1));
                }
                assertThat(source.resolves.get()).isEqualTo(resolved + 1);
            }
        });
    }
}
