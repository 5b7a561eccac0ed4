package io.vduse.iova;

import java.math.BigInteger;
import java.util.SplittableRandom;

/** Random addresses for the model tests, and unsigned helpers for the models. */
final class Addresses {

    static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

    private Addresses() {}

    /** A long read as an unsigned 64-bit number. */
    static BigInteger u(long x) {
        return new BigInteger(Long.toUnsignedString(x));
    }

    /**
     * An address clustered where unsigned arithmetic goes wrong: near 0, near 2^63 (where a
     * signed comparison flips) and near 2^64 - 1, and now and then anywhere. Clustering makes
     * ranges collide often.
     */
    static long address(SplittableRandom random) {
        return switch (random.nextInt(10)) {
            case 0, 1, 2 -> random.nextLong(97);
            case 3, 4, 5 -> -1L - random.nextLong(97);
            case 6, 7, 8 -> Long.MIN_VALUE + random.nextLong(-48, 49);
            default -> random.nextLong();
        };
    }

    /** A length, never 0: mostly short, so ranges collide, sometimes enormous. */
    static long length(SplittableRandom random) {
        return switch (random.nextInt(10)) {
            case 8 -> random.nextLong(1, Long.MAX_VALUE);
            case 9 -> {
                long any = random.nextLong();
                yield any == 0 ? 1 : any;
            }
            default -> random.nextLong(1, 41);
        };
    }

    /** The last address of a range of {@code length} bytes at {@code start}, capped at 2^64 - 1. */
    static long lastOf(long start, long length) {
        long last = start + length - 1;
        return Long.compareUnsigned(last, start) < 0 ? -1L : last;
    }
}
