package io.vduse.iova;

import static io.vduse.iova.Addresses.u;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link IotlbTree} against a model: a plain list of ranges in {@link BigInteger}, so that the
 * model needs no unsigned tricks and cannot share a bug with the tree. Thousands of random
 * operation sequences per run, with addresses clustered at 0, 2^63 and 2^64 - 1.
 */
class IotlbTreePropertiesTest {

    /** Payload: the file offset of the entry's first byte; a piece cut later moves it along. */
    private static final IotlbTree.Splitter<Long> MOVE_OFFSET = (offset, skipped) -> offset + skipped;

    enum Kind { INSERT, REMOVE_OVERLAPPING, REMOVE_RANGE, FIND, FIRST, OVERLAPPING, CLEAR }

    record Op(Kind kind, long start, long last, long value) {}

    record ModelEntry(BigInteger start, BigInteger last, BigInteger offset) {}

    /** The model: entries in a list, every operation a linear scan. */
    static final class Model {
        final List<ModelEntry> entries = new ArrayList<>();

        boolean overlaps(ModelEntry e, BigInteger s, BigInteger l) {
            return e.start().compareTo(l) <= 0 && s.compareTo(e.last()) <= 0;
        }

        List<ModelEntry> overlapping(BigInteger s, BigInteger l) {
            return entries.stream().filter(e -> overlaps(e, s, l))
                    .sorted(Comparator.comparing(ModelEntry::start)).toList();
        }

        Optional<ModelEntry> holding(BigInteger x) {
            return entries.stream()
                    .filter(e -> e.start().compareTo(x) <= 0 && x.compareTo(e.last()) <= 0)
                    .findFirst();
        }

        void removeRange(BigInteger s, BigInteger l) {
            List<ModelEntry> kept = new ArrayList<>();
            for (ModelEntry e : entries) {
                if (!overlaps(e, s, l)) {
                    kept.add(e);
                    continue;
                }
                if (e.start().compareTo(s) < 0) {
                    kept.add(new ModelEntry(e.start(), s.subtract(BigInteger.ONE), e.offset()));
                }
                if (l.compareTo(e.last()) < 0) {
                    BigInteger tail = l.add(BigInteger.ONE);
                    kept.add(new ModelEntry(tail, e.last(), e.offset().add(tail.subtract(e.start())).mod(Addresses.TWO_64)));
                }
            }
            entries.clear();
            entries.addAll(kept);
        }

        List<ModelEntry> sorted() {
            return entries.stream().sorted(Comparator.comparing(ModelEntry::start)).toList();
        }
    }

    /** A random operation; CLEAR is rare, or the tree would seldom hold many entries. */
    private static Op randomOp(SplittableRandom random) {
        Kind[] kinds = Kind.values();
        Kind kind = random.nextInt(16) == 0 ? Kind.CLEAR : kinds[random.nextInt(kinds.length - 1)];
        long start = Addresses.address(random);
        return new Op(kind, start, Addresses.lastOf(start, Addresses.length(random)), random.nextLong(1L << 40));
    }

    @Test
    void behavesLikeTheModel() {
        SeededCases.run(3000, random -> {
            List<Op> ops = new ArrayList<>();
            int count = 1 + random.nextInt(60);
            for (int i = 0; i < count; i++) {
                ops.add(randomOp(random));
            }
            checkAgainstModel(ops);
        });
    }

    private static void checkAgainstModel(List<Op> ops) {
        IotlbTree<Long> tree = new IotlbTree<>();
        Model model = new Model();
        TreeSet<BigInteger> probes = new TreeSet<>();
        for (Op op : ops) {
            BigInteger s = u(op.start());
            BigInteger l = u(op.last());
            probes.add(s);
            probes.add(l);
            switch (op.kind()) {
                case INSERT -> {
                    List<ModelEntry> inTheWay = model.overlapping(s, l);
                    if (inTheWay.isEmpty()) {
                        tree.insert(op.start(), op.last(), op.value());
                        model.entries.add(new ModelEntry(s, l, BigInteger.valueOf(op.value())));
                    } else {
                        assertThatThrownBy(() -> tree.insert(op.start(), op.last(), op.value()))
                                .isInstanceOfSatisfying(IotlbOverlapException.class, e -> {
                                    assertThat(u(e.existingStart())).isEqualTo(inTheWay.get(0).start());
                                    assertThat(u(e.existingLast())).isEqualTo(inTheWay.get(0).last());
                                });
                    }
                }
                case REMOVE_OVERLAPPING -> {
                    List<ModelEntry> expected = model.overlapping(s, l);
                    assertThat(asModel(tree.removeOverlapping(op.start(), op.last()))).isEqualTo(expected);
                    model.entries.removeAll(expected);
                }
                case REMOVE_RANGE -> {
                    List<ModelEntry> removed = asModel(tree.removeRange(op.start(), op.last(), MOVE_OFFSET));
                    // The removed pieces are exactly the mapped addresses of [s, l], with the
                    // offsets they had.
                    for (ModelEntry piece : removed) {
                        assertThat(piece.start()).isGreaterThanOrEqualTo(s);
                        assertThat(piece.last()).isLessThanOrEqualTo(l);
                        for (BigInteger x : List.of(piece.start(), piece.last())) {
                            ModelEntry before = model.holding(x).orElseThrow();
                            assertThat(offsetAt(piece, x)).isEqualTo(offsetAt(before, x));
                        }
                    }
                    assertThat(removed.size()).isEqualTo(model.overlapping(s, l).size());
                    model.removeRange(s, l);
                }
                case FIND -> assertThat(tree.find(op.start()).map(IotlbTreePropertiesTest::asModel))
                        .isEqualTo(model.holding(s));
                case FIRST -> assertThat(tree.first(op.start(), op.last()).map(IotlbTreePropertiesTest::asModel))
                        .isEqualTo(model.overlapping(s, l).stream().findFirst());
                case OVERLAPPING -> assertThat(asModel(tree.overlapping(op.start(), op.last())))
                        .isEqualTo(model.overlapping(s, l));
                case CLEAR -> {
                    tree.clear();
                    model.entries.clear();
                }
            }
            assertThat(asModel(tree.entries())).isEqualTo(model.sorted());
            assertThat(tree.size()).isEqualTo(model.entries.size());
        }
        // Every boundary the operations touched, and its neighbours, translates alike.
        for (BigInteger p : probes) {
            for (BigInteger x : List.of(p.subtract(BigInteger.ONE), p, p.add(BigInteger.ONE))) {
                if (x.signum() < 0 || x.compareTo(Addresses.TWO_64) >= 0) {
                    continue;
                }
                Optional<ModelEntry> expected = model.holding(x);
                Optional<IotlbTree.Entry<Long>> actual = tree.find(x.longValue());
                assertThat(actual.isPresent()).as("mapped 0x%s", x.toString(16)).isEqualTo(expected.isPresent());
                actual.ifPresent(e -> assertThat(offsetAt(asModel(e), x)).isEqualTo(offsetAt(expected.get(), x)));
            }
        }
    }

    @Test
    void rejectsRangesEndingBeforeTheyStart() {
        SeededCases.run(1000, random -> {
            long a = Addresses.address(random);
            long b = Addresses.address(random);
            if (a == b) {
                return;
            }
            long start = Long.compareUnsigned(a, b) > 0 ? a : b;
            long last = start == a ? b : a;
            IotlbTree<Long> tree = new IotlbTree<>();
            assertThatThrownBy(() -> tree.insert(start, last, 1L))
                    .isInstanceOf(IllegalArgumentException.class)
                    .isNotInstanceOf(IotlbOverlapException.class);
            assertThatThrownBy(() -> tree.first(start, last)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> tree.removeOverlapping(start, last)).isInstanceOf(IllegalArgumentException.class);
        });
    }

    private static BigInteger offsetAt(ModelEntry e, BigInteger x) {
        // Offsets are 64-bit like the payload they model, so they wrap alike.
        return e.offset().add(x.subtract(e.start())).mod(Addresses.TWO_64);
    }

    private static ModelEntry asModel(IotlbTree.Entry<Long> e) {
        return new ModelEntry(u(e.start()), u(e.last()), u(e.value()));
    }

    private static List<ModelEntry> asModel(List<IotlbTree.Entry<Long>> entries) {
        return entries.stream().map(IotlbTreePropertiesTest::asModel).toList();
    }
}
