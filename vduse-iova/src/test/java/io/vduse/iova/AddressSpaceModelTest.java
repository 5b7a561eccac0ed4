package io.vduse.iova;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.iova.PatternSource.Region;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link AddressSpace} against a model of its cache, single-threaded: the set of cached ranges.
 * A translation hits exactly when the model holds the address (and then asks the source
 * nothing), a miss caches what the source answers and drops the stale ranges it overlaps (whose
 * memory stays mapped until the next invalidation), an invalidation drops the overlapping ranges
 * whole and releases them with every displaced one. The kernel's layout changes at random, with
 * and without invalidation, so the cache holds stale entries too. Regions cluster at 0, 2^63
 * and 2^64 - 1.
 */
class AddressSpaceModelTest {

    private static final long[] CLUSTERS = {0, Long.MIN_VALUE - 256, -512L};
    private static final int CLUSTER_SIZE = 512;

    private static List<Region> randomLayout(SplittableRandom random) {
        List<Region> regions = new ArrayList<>();
        for (long base : CLUSTERS) {
            int off = 0;
            while (true) {
                off += random.nextInt(16);
                if (off >= CLUSTER_SIZE) {
                    break;
                }
                int last = Math.min(CLUSTER_SIZE - 1, off + random.nextInt(48));
                regions.add(new Region(base + off, base + last, Access.values()[random.nextInt(3)]));
                off = last + 1;
            }
        }
        return regions;
    }

    private static long randomAddress(SplittableRandom random) {
        return CLUSTERS[random.nextInt(CLUSTERS.length)] + random.nextInt(CLUSTER_SIZE);
    }

    private static Optional<Region> holding(List<Region> regions, long iova) {
        return regions.stream().filter(r -> Ranges.contains(r.start(), r.last(), iova)).findFirst();
    }

    @Test
    void cachesExactlyWhatTheModelCaches() {
        SeededCases.run(500, random -> {
            List<Region> layout = randomLayout(random);
            PatternSource source = new PatternSource(layout);
            List<Region> cached = new ArrayList<>();
            int[] displaced = {0}; // mappings a miss dropped, still mapped until an invalidation
            try (AddressSpace space = new AddressSpace(source)) {
                for (int step = 0; step < 200; step++) {
                    int what = random.nextInt(20);
                    if (what < 15) {
                        long iova = randomAddress(random);
                        int resolvesBefore = source.resolves.get();
                        Optional<Region> hit = holding(cached, iova);
                        Optional<Region> expected = hit.isPresent() ? hit : holding(layout, iova);
                        try {
                            Mapping m = space.mapping(iova, Access.READ);
                            Region r = expected.orElseThrow(() -> new AssertionError("translated unmapped 0x%x".formatted(iova)));
                            assertThat(r.access().allows(Access.READ)).isTrue();
                            assertThat(m.start()).isEqualTo(r.start());
                            assertThat(m.last()).isEqualTo(r.last());
                            assertThat(m.memory().get(ValueLayout.JAVA_BYTE, m.offsetOf(iova)))
                                    .isEqualTo(PatternSource.patternAt(iova));
                        } catch (IovaFault f) {
                            assertThat(f.reason()).isEqualTo(expected.isEmpty()
                                    ? IovaFault.Reason.UNMAPPED : IovaFault.Reason.PERMISSION);
                        }
                        // A hit asks the source nothing; a miss maps one entry, if there is one.
                        boolean mapsOne = hit.isEmpty() && expected.isPresent();
                        assertThat(source.resolves.get() - resolvesBefore).as("resolves for 0x%x", iova)
                                .isEqualTo(mapsOne ? 1 : 0);
                        if (mapsOne) {
                            Region fresh = expected.get();
                            int before = cached.size();
                            cached.removeIf(c -> Ranges.overlaps(c.start(), c.last(), fresh.start(), fresh.last()));
                            displaced[0] += before - cached.size();
                            cached.add(fresh);
                        }
                    } else if (what < 18) {
                        long start = randomAddress(random);
                        long last = Addresses.lastOf(start, 1 + random.nextInt(64));
                        space.invalidate(start, last);
                        cached.removeIf(c -> Ranges.overlaps(c.start(), c.last(), start, last));
                        displaced[0] = 0;
                    } else {
                        layout = randomLayout(random);
                        source.setLayout(layout);
                        if (random.nextBoolean()) {
                            space.invalidateAll();
                            cached.clear();
                            displaced[0] = 0;
                        }
                    }
                    List<Mapping> actual = space.cachedMappings();
                    assertThat(actual).hasSameSizeAs(cached);
                    for (int i = 1; i < actual.size(); i++) {
                        assertThat(Long.compareUnsigned(actual.get(i - 1).last(), actual.get(i).start()))
                                .as("sorted and disjoint").isNegative();
                    }
                    for (Mapping m : actual) {
                        assertThat(cached).contains(new Region(m.start(), m.last(), m.access()));
                    }
                    assertThat(source.liveCount()).isEqualTo(cached.size() + displaced[0]);
                }
            }
            assertThat(source.liveCount()).isZero();
        });
    }
}
