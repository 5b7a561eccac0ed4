package io.vduse.iova;

import static io.vduse.iova.PatternSource.patternAt;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.iova.PatternSource.Region;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Queue threads translate and read while a message thread invalidates and the kernel changes
 * its layout underneath. Every read must give the pattern byte of its address, or fail with the
 * documented IllegalStateException (memory released under it); anything else, a wrong byte, a
 * fault on a mapped address or a crash, fails the test.
 */
class AddressSpaceConcurrencyTest {

    private static final long BASE = 0x10_0000;
    private static final long SPAN = 64 * 1024;
    private static final int READERS = 3;
    private static final int READS_PER_INVALIDATION = 20;
    private static final int READS_PER_THREAD = 30_000;

    /** Pages of 4 KiB, read-only: handed out as read-only views. */
    private static List<Region> layoutA() {
        List<Region> regions = new ArrayList<>();
        for (long at = BASE; at < BASE + SPAN; at += 0x1000) {
            regions.add(new Region(at, at + 0xfff, Access.READ));
        }
        return regions;
    }

    /** Pieces of 6 KiB shifted by 2 KiB, read-write, so every boundary moves. */
    private static List<Region> layoutB() {
        List<Region> regions = new ArrayList<>();
        regions.add(new Region(BASE, BASE + 0x7ff, Access.READ_WRITE));
        for (long at = BASE + 0x800; at < BASE + SPAN; at += 0x1800) {
            regions.add(new Region(at, Math.min(at + 0x17ff, BASE + SPAN - 1), Access.READ_WRITE));
        }
        return regions;
    }

    @Test
    void readersSeeCorrectBytesOrAReleasedMappingWhileRangesAreInvalidated() throws Exception {
        long seed = System.nanoTime();
        PatternSource source = new PatternSource(layoutA());
        AddressSpace space = new AddressSpace(source);
        CountDownLatch readersDone = new CountDownLatch(READERS);
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicLong reads = new AtomicLong();
        AtomicLong released = new AtomicLong();
        AtomicLong invalidations = new AtomicLong();
        CountDownLatch start = new CountDownLatch(1);

        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < READERS; t++) {
            long readerSeed = seed + t;
            threads.add(Thread.ofPlatform().name("reader-" + t).unstarted(() -> {
                SplittableRandom random = new SplittableRandom(readerSeed);
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment buffer = arena.allocate(10_000);
                    IovaPieces pieces = new IovaPieces(8);
                    start.await();
                    for (int i = 0; i < READS_PER_THREAD; i++) {
                        if (i % READS_PER_INVALIDATION == 0) {
                            // Give the invalidator a chance on a machine with fewer cores than threads.
                            Thread.yield();
                        }
                        try {
                            readOnce(space, random, buffer, pieces);
                            reads.incrementAndGet();
                        } catch (IllegalStateException e) {
                            // A mapping taken from an old snapshot was released under us: the
                            // documented outcome of the race, never a crash.
                            released.incrementAndGet();
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                } finally {
                    readersDone.countDown();
                }
            }));
        }
        threads.add(Thread.ofPlatform().name("invalidator").unstarted(() -> {
            SplittableRandom random = new SplittableRandom(seed - 1);
            try {
                start.await();
                // Invalidate for as long as anyone reads, so that reads race with it.
                for (int i = 0; readersDone.getCount() > 0; i++) {
                    if (i % 100 == 99) {
                        // The kernel changes its IOTLB, then tells the device. In between,
                        // misses fetch new entries overlapping stale cached ones.
                        source.setLayout(i % 200 == 199 ? layoutA() : layoutB());
                        Thread.yield();
                        space.invalidate(BASE, BASE + SPAN - 1);
                    } else {
                        long from = BASE + random.nextLong(SPAN);
                        space.invalidate(from, Math.min(BASE + SPAN - 1, from + random.nextLong(0x3000)));
                    }
                    invalidations.incrementAndGet();
                    // Pace by the readers' progress, not by time: on a loaded machine with few
                    // cores a free-running invalidator either starves the readers or runs while
                    // they are descheduled, and most invalidations would find nothing to drop.
                    long next = reads.get() + released.get() + READS_PER_INVALIDATION;
                    while (readersDone.getCount() > 0 && reads.get() + released.get() < next) {
                        Thread.onSpinWait();
                    }
                }
            } catch (Throwable e) {
                errors.add(e);
            }
        }));
        threads.forEach(Thread::start);
        start.countDown();
        for (Thread t : threads) {
            t.join();
        }
        space.close();
        System.out.printf("reads %d, released under a reader %d, invalidations %d, resolves %d%n",
                reads.get(), released.get(), invalidations.get(), source.resolves.get());

        assertThat(errors).as("seed %d", seed).isEmpty();
        assertThat(reads.get() + released.get()).isEqualTo((long) READERS * READS_PER_THREAD);
        assertThat(source.liveCount()).as("every mapping released exactly once").isZero();
        assertThat(source.releases.get()).isEqualTo(source.resolves.get());
    }

    /** One translation of a random kind, checked byte for byte against the pattern. */
    private static void readOnce(AddressSpace space, SplittableRandom random, MemorySegment buffer, IovaPieces pieces) {
        long iova = BASE + random.nextLong(SPAN);
        switch (random.nextInt(3)) {
            case 0 -> {
                Mapping m = space.mapping(iova, Access.READ);
                assertByte(iova, m.memory().get(ValueLayout.JAVA_BYTE, m.offsetOf(iova)));
            }
            case 1 -> {
                long length = 1 + random.nextLong(Math.min(buffer.byteSize(), BASE + SPAN - iova));
                MemorySegment into = buffer.asSlice(0, length);
                space.readBytes(iova, into);
                for (long i = 0; i < length; i += 1 + random.nextInt(64)) {
                    assertByte(iova + i, into.get(ValueLayout.JAVA_BYTE, i));
                }
            }
            default -> {
                long length = 1 + random.nextLong(Math.min(0x3000, BASE + SPAN - iova));
                int n = space.gather(iova, length, Access.READ, pieces);
                long at = iova;
                long total = 0;
                for (int p = 0; p < n; p++) {
                    Mapping m = pieces.mapping(p);
                    assertThat(m.offsetOf(at)).isEqualTo(pieces.offset(p));
                    assertByte(at, m.memory().get(ValueLayout.JAVA_BYTE, pieces.offset(p)));
                    long lastOfPiece = at + pieces.length(p) - 1;
                    assertByte(lastOfPiece, m.memory().get(ValueLayout.JAVA_BYTE, pieces.offset(p) + pieces.length(p) - 1));
                    at += pieces.length(p);
                    total += pieces.length(p);
                }
                assertThat(total).isEqualTo(length);
            }
        }
    }

    private static void assertByte(long iova, byte actual) {
        if (actual != patternAt(iova)) {
            throw new AssertionError("IOVA 0x%x read 0x%x, expected 0x%x".formatted(iova, actual, patternAt(iova)));
        }
    }
}
