package io.vduse.iova;

import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Runs a randomized check many times, each case from its own seed, and names the seed of a
 * failing case so that it can be replayed: {@code -Dvduse.seed=0x...} runs that one case.
 *
 * <p>Each run starts from a fresh base seed unless one is given, so repeated builds explore new
 * cases; the base seed is in the failure message too.
 */
final class SeededCases {

    private SeededCases() {}

    /** Runs {@code check} for {@code cases} seeds, or for the one seed of {@code -Dvduse.seed}. */
    static void run(int cases, Consumer<SplittableRandom> check) {
        String fixed = System.getProperty("vduse.seed");
        if (fixed != null) {
            // Seeds print as unsigned hex; half of them exceed Long.MAX_VALUE, which
            // Long.decode would reject.
            String hex = fixed.startsWith("0x") || fixed.startsWith("0X") ? fixed.substring(2) : fixed;
            runOne(Long.parseUnsignedLong(hex, 16), check);
            return;
        }
        long base = System.nanoTime() ^ 0x9E3779B97F4A7C15L;
        SplittableRandom seeds = new SplittableRandom(base);
        for (int i = 0; i < cases; i++) {
            runOne(seeds.nextLong(), check);
        }
    }

    private static void runOne(long seed, Consumer<SplittableRandom> check) {
        try {
            check.accept(new SplittableRandom(seed));
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("failed for seed 0x%x (replay with -Dvduse.seed=0x%x)"
                    .formatted(seed, seed), e);
        }
    }
}
