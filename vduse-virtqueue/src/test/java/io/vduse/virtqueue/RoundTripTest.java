package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Driver to device and back on both layouts, every byte checked, every notification decision checked. */
class RoundTripTest {

    static List<Arguments> configurations() {
        List<Arguments> all = new ArrayList<>();
        for (boolean eventIdx : new boolean[] {false, true}) {
            for (boolean indirect : new boolean[] {false, true}) {
                for (int size : new int[] {1, 2, 4, 16}) {
                    all.add(Arguments.of(false, size, eventIdx, indirect));
                }
                for (int size : new int[] {1, 3, 4, 7, 16}) {
                    all.add(Arguments.of(true, size, eventIdx, indirect));
                }
            }
        }
        return all;
    }

    @ParameterizedTest(name = "packed={0} size={1} eventIdx={2} indirect={3}")
    @MethodSource("configurations")
    void chainsGoThereAndBack(boolean packed, int size, boolean eventIdx, boolean indirect) {
        long seed = 0x5eed_0000L + (packed ? 1000 : 0) + size * 10L + (eventIdx ? 2 : 0) + (indirect ? 1 : 0);
        // Split indexes are 16-bit: 140k chains wrap them twice on the configurations that run them.
        long chains = !packed && (size == 4 || size == 16) ? 140_000 : 20_000;
        try (Rig rig = new Rig(size, Rig.features(packed, eventIdx, indirect))) {
            Simulation sim = new Simulation(rig, seed, eventIdx, indirect);
            sim.run(chains, 300);
            assertThat(sim.polledChains).as("seed %x", seed).isEqualTo(chains);
            assertThat(sim.kicks).isPositive();
            assertThat(sim.interrupts).isPositive();
            if (indirect) {
                assertThat(sim.indirectChains).isPositive();
            }
            assertThat(sim.reconnects).isPositive();
            if (!packed && chains > 0x20000) {
                assertThat(sim.addedChains).isGreaterThan(2 * 0x10000L);
            }
            if (packed) {
                // The wrap counter flipped many times.
                assertThat(sim.addedSlots / size).isGreaterThan(1000);
            }
            // Suppression did suppress: fewer kicks and interrupts than chains.
            assertThat(sim.kicks).isLessThan(chains);
            assertThat(sim.interrupts).isLessThan(chains);
        }
    }
}
