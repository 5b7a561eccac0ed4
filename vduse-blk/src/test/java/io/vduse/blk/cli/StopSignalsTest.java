package io.vduse.blk.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * SIGTERM and SIGINT become a stop request with their exit status (the real signal, end to end,
 * is in vduse-dist's DistributionIT; a second signal halts the JVM, which no test here survives).
 */
class StopSignalsTest {

    private final Map<String, Runnable> actions = new HashMap<>();
    private final Map<String, Integer> restored = new HashMap<>();

    private Runnable install(String name, Runnable action) {
        actions.put(name, action);
        return () -> restored.merge(name, 1, Integer::sum);
    }

    @Test
    void sigtermAsksForAStopWithStatus143AndRunsTheWakeUp() {
        AtomicInteger wakeUps = new AtomicInteger();
        StopSignals signals = StopSignals.install(wakeUps::incrementAndGet, this::install);
        assertThat(signals.installed()).isTrue();
        assertThat(signals.requested()).isFalse();
        assertThat(signals.exitStatus()).isZero();

        actions.get("TERM").run();

        assertThat(signals.requested()).isTrue();
        assertThat(signals.exitStatus()).isEqualTo(StopSignals.TERM_STATUS).isEqualTo(143);
        assertThat(wakeUps).hasValue(1);
    }

    @Test
    void sigintAsksForAStopWithStatus130() {
        StopSignals signals = StopSignals.install(() -> {}, this::install);
        actions.get("INT").run();
        assertThat(signals.requested()).isTrue();
        assertThat(signals.exitStatus()).isEqualTo(StopSignals.INT_STATUS).isEqualTo(130);
    }

    @Test
    void aSignalTheJvmKeepsIsReportedAsNotInstalled() {
        StopSignals signals = StopSignals.install(() -> {}, (name, action) -> name.equals("INT") ? null : () -> {});
        assertThat(signals.installed()).isFalse();
        assertThat(signals.requested()).isFalse();
        signals.close(); // restores what it installed, and nothing else
    }

    @Test
    void closeGivesBothSignalsBackOnce() {
        StopSignals signals = StopSignals.install(() -> {}, this::install);
        signals.close();
        assertThat(restored).containsOnly(Map.entry("TERM", 1), Map.entry("INT", 1));
    }
}
