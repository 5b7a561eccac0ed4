package io.vduse.iova;

import static io.vduse.iova.Addresses.u;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link IovaAllocator} against a model that knows only the list of allocated ranges, in
 * {@link BigInteger}: the expected allocation is the lowest aligned address whose range lies in
 * the window and overlaps no allocation.
 */
class IovaAllocatorPropertiesTest {

    record Range(BigInteger start, BigInteger last) {}

    /** The model: allocated ranges; free space is whatever they leave of the window. */
    static final class Model {
        final BigInteger windowStart;
        final BigInteger windowLast;
        final List<Range> allocated = new ArrayList<>();

        Model(long windowStart, long windowLast) {
            this.windowStart = u(windowStart);
            this.windowLast = u(windowLast);
        }

        Optional<BigInteger> firstFit(BigInteger size, BigInteger alignment) {
            List<Range> sorted = allocated.stream().sorted(Comparator.comparing(Range::start)).toList();
            BigInteger gapStart = windowStart;
            List<Range> gaps = new ArrayList<>();
            for (Range r : sorted) {
                if (r.start().compareTo(gapStart) > 0) {
                    gaps.add(new Range(gapStart, r.start().subtract(BigInteger.ONE)));
                }
                gapStart = r.last().add(BigInteger.ONE);
            }
            if (gapStart.compareTo(windowLast) <= 0) {
                gaps.add(new Range(gapStart, windowLast));
            }
            for (Range gap : gaps) {
                BigInteger start = ceil(gap.start(), alignment);
                if (start.add(size).subtract(BigInteger.ONE).compareTo(gap.last()) <= 0) {
                    return Optional.of(start);
                }
            }
            return Optional.empty();
        }

        static BigInteger ceil(BigInteger x, BigInteger alignment) {
            return x.add(alignment).subtract(BigInteger.ONE).divide(alignment).multiply(alignment);
        }
    }

    @Test
    void behavesLikeTheModel() {
        SeededCases.run(3000, random -> {
            long windowStart = Addresses.address(random);
            long windowLast = Addresses.lastOf(windowStart, random.nextInt(4) == 0
                    ? Addresses.length(random) : random.nextLong(1, 400));
            IovaAllocator allocator = new IovaAllocator(windowStart, windowLast);
            Model model = new Model(windowStart, windowLast);
            int steps = 1 + random.nextInt(80);
            for (int step = 0; step < steps; step++) {
                int what = random.nextInt(10);
                if (what < 6) {
                    allocate(random, allocator, model);
                } else if (what < 9 && !model.allocated.isEmpty()) {
                    Range r = model.allocated.remove(random.nextInt(model.allocated.size()));
                    assertThat(u(allocator.free(r.start().longValue())))
                            .isEqualTo(r.last().subtract(r.start()).add(BigInteger.ONE));
                } else {
                    long address = random.nextBoolean() ? Addresses.address(random) : windowStart + random.nextInt(400);
                    boolean starts = model.allocated.stream().anyMatch(r -> r.start().equals(u(address)));
                    if (!starts) {
                        assertThatThrownBy(() -> allocator.free(address)).isInstanceOf(IllegalArgumentException.class);
                        assertThat(allocator.allocationSize(address)).isZero();
                    }
                }
                assertThat(allocator.allocationCount()).isEqualTo(model.allocated.size());
            }
            // Everything freed, the window is one free range again.
            for (Range r : model.allocated) {
                allocator.free(r.start().longValue());
            }
            model.allocated.clear();
            BigInteger whole = model.windowLast.subtract(model.windowStart).add(BigInteger.ONE);
            if (whole.compareTo(Addresses.TWO_64) < 0) {
                assertThat(allocator.allocate(whole.longValue(), 1)).isEqualTo(windowStart);
            }
        });
    }

    private static void allocate(SplittableRandom random, IovaAllocator allocator, Model model) {
        long size = random.nextInt(8) == 0 ? Addresses.length(random) : random.nextLong(1, 48);
        long alignment = 1L << (random.nextInt(4) == 0 ? random.nextInt(64) : random.nextInt(6));
        Optional<BigInteger> expected = model.firstFit(u(size), u(alignment));
        if (expected.isEmpty()) {
            assertThatThrownBy(() -> allocator.allocate(size, alignment))
                    .isInstanceOfSatisfying(IovaExhaustedException.class, e -> {
                        assertThat(e.size()).isEqualTo(size);
                        assertThat(e.alignment()).isEqualTo(alignment);
                    });
            return;
        }
        long start = allocator.allocate(size, alignment);
        assertThat(u(start)).isEqualTo(expected.get());
        assertThat(allocator.allocationSize(start)).isEqualTo(size);
        model.allocated.add(new Range(u(start), u(start).add(u(size)).subtract(BigInteger.ONE)));
    }

    @Test
    void rejectsNonsense() {
        IovaAllocator allocator = new IovaAllocator(0x1000, 0x1fff);
        assertThatThrownBy(() -> allocator.allocate(0, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("IOVA allocation of 0 bytes");
        assertThatThrownBy(() -> allocator.allocate(1, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("IOVA alignment 0x3 is not a power of two");
        assertThatThrownBy(() -> allocator.allocate(1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new IovaAllocator(2, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void exhaustionIsTypedAndNamesTheRequest() {
        IovaAllocator allocator = new IovaAllocator(0x1000, 0x2fff);
        assertThat(allocator.allocate(0x1000, 0x1000)).isEqualTo(0x1000);
        assertThat(allocator.allocate(0x1000, 0x1000)).isEqualTo(0x2000);

        assertThatThrownBy(() -> allocator.allocate(1, 1))
                .isInstanceOf(IovaExhaustedException.class)
                .hasMessage("no free IOVA range of 1 bytes aligned to 0x1 in [0x1000, 0x2fff]");
        allocator.free(0x1000);
        assertThat(allocator.allocate(0x800, 0x1000)).isEqualTo(0x1000);
    }

    @Test
    void doubleFreeIsRejected() {
        IovaAllocator allocator = new IovaAllocator(0, -1L);
        long start = allocator.allocate(16, 16);
        allocator.free(start);
        assertThatThrownBy(() -> allocator.free(start))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("IOVA 0x0 is not the start of an allocation");
    }

    @Test
    void servesTheTopOfTheSpace() {
        IovaAllocator allocator = new IovaAllocator(-0x2000L, -1L);
        assertThat(allocator.allocate(0x1000, 0x1000)).isEqualTo(-0x2000L);
        assertThat(allocator.allocate(0x1000, 0x1000)).isEqualTo(-0x1000L);
        assertThatThrownBy(() -> allocator.allocate(1, 1)).isInstanceOf(IovaExhaustedException.class);
        allocator.free(-0x1000L);
        allocator.free(-0x2000L);
        assertThat(allocator.allocate(0x2000, 0x2000)).isEqualTo(-0x2000L);
    }
}
