package io.vduse.blk.cli;

import io.vduse.core.Signals;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * SIGTERM and SIGINT as a request to stop, answered by the tool's own thread rather than by the
 * JVM's exit.
 *
 * <p>Left to the JVM, either signal starts its exit at once: the shutdown hooks run side by side,
 * JFR's {@code -XX:StartFlightRecording} dump among them, so a recording written at exit lacks
 * what the tool's own hook does afterwards (the device's destruction). Caught here, the signal
 * only wakes the serving thread; it stops the device, and the JVM exits after that with the
 * status the signal would have given ({@code 128 +} its number: 143 for SIGTERM, 130 for SIGINT),
 * which service managers and scripts already take for a clean stop.
 *
 * <p>A second signal while the stop is under way ends the process at once ({@link Runtime#halt}),
 * for a stop that hangs: the kernel keeps the device, and {@code --reconnect} takes it over.
 */
final class StopSignals implements AutoCloseable {

    /** SIGTERM's status, 128 + 15. */
    static final int TERM_STATUS = 143;
    /** SIGINT's status, 128 + 2. */
    static final int INT_STATUS = 130;

    private final Runnable onStop;
    // The JVM runs each signal's action on a thread of its own: two signals close together race
    // here, and the compare-and-set lets exactly one of them be the first. Non-zero: a stop was
    // asked for.
    private final AtomicInteger status = new AtomicInteger();
    private final Runnable restoreTerm;
    private final Runnable restoreInt;

    private StopSignals(Runnable onStop, SignalInstaller installer) {
        this.onStop = onStop;
        this.restoreTerm = installer.install("TERM", () -> signalled(TERM_STATUS));
        this.restoreInt = installer.install("INT", () -> signalled(INT_STATUS));
    }

    /**
     * Catches SIGTERM and SIGINT from now on; {@code onStop} runs on the signal's thread when the
     * first arrives (e.g. to wake a thread that waits on something else).
     */
    static StopSignals install(Runnable onStop) {
        return new StopSignals(onStop, Signals::replace);
    }

    /** As {@link #install}, through {@code installer} (tests). */
    static StopSignals install(Runnable onStop, SignalInstaller installer) {
        return new StopSignals(onStop, installer);
    }

    private void signalled(int signalStatus) {
        if (!status.compareAndSet(0, signalStatus)) {
            Runtime.getRuntime().halt(status.get());
        }
        onStop.run();
    }

    /**
     * Whether both signals are caught here. Where one is not (the JVM keeps it, or
     * {@code jdk.unsupported} is missing) the JVM's exit handles it, hooks and all.
     */
    boolean installed() {
        return restoreTerm != null && restoreInt != null;
    }

    /** Whether a stop was asked for. */
    boolean requested() {
        return status.get() != 0;
    }

    /** The exit status of the signal that asked for the stop; 0 before one did. */
    int exitStatus() {
        return status.get();
    }

    /** Gives both signals back to the handlers they had (the JVM's exit), e.g. in a test's JVM. */
    @Override
    public void close() {
        if (restoreTerm != null) {
            restoreTerm.run();
        }
        if (restoreInt != null) {
            restoreInt.run();
        }
    }

    /** How a signal's action is put in place: {@link Signals#replace} outside tests. */
    @FunctionalInterface
    interface SignalInstaller {
        /**
         * Runs {@code action} on signal {@code name}; what restores the previous handler, or null
         * if it could not be installed.
         */
        Runnable install(String name, Runnable action);
    }
}
