package io.vduse.iova;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake kernel for {@link AddressSpace}: serves a layout of regions whose byte at IOVA
 * {@code x} is always {@link #patternAt}(x), each resolve in fresh memory of its own shared
 * arena (as {@code mmap} gives fresh mappings), closed on release as the {@link MappingSource}
 * contract says. So any correct translation, old or new, reads the pattern, and a translation
 * that uses released memory fails with IllegalStateException.
 */
final class PatternSource implements MappingSource {

    /** One IOTLB entry of the fake kernel. */
    record Region(long start, long last, Access access) {}

    private volatile List<Region> layout;
    private final Map<Mapping, Arena> live = new IdentityHashMap<>();
    final AtomicInteger resolves = new AtomicInteger();
    final AtomicInteger releases = new AtomicInteger();

    PatternSource(List<Region> layout) {
        this.layout = List.copyOf(layout);
    }

    /** The byte every mapping holds at {@code iova}. */
    static byte patternAt(long iova) {
        return (byte) ((iova * 0x9E3779B97F4A7C15L) >>> 56);
    }

    /** Changes what later resolves answer, as the kernel changes its IOTLB. */
    void setLayout(List<Region> next) {
        layout = List.copyOf(next);
    }

    @Override
    public Optional<Mapping> resolve(long iova) {
        for (Region r : layout) {
            if (Ranges.contains(r.start(), r.last(), iova)) {
                Arena arena = Arena.ofShared();
                long size = r.last() - r.start() + 1;
                MemorySegment memory = arena.allocate(size);
                for (long i = 0; i < size; i++) {
                    memory.set(ValueLayout.JAVA_BYTE, i, patternAt(r.start() + i));
                }
                Mapping m = new Mapping(r.start(), r.last(), r.access(), memory);
                synchronized (live) {
                    live.put(m, arena);
                }
                resolves.incrementAndGet();
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }

    @Override
    public void release(Mapping mapping) {
        Arena arena;
        synchronized (live) {
            arena = live.remove(mapping);
        }
        if (arena == null) {
            throw new AssertionError("released twice, or never resolved: " + mapping);
        }
        arena.close();
        releases.incrementAndGet();
    }

    /** Mappings resolved and not yet released. */
    int liveCount() {
        synchronized (live) {
            return live.size();
        }
    }
}
