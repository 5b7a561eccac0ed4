package io.vduse.it;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Runs a program where the real kernel's VDUSE is: inside a QEMU guest through
 * {@code vduse-it/guest/run-in-guest}, or natively if this machine has {@code /dev/vduse/control}
 * and we are root.
 *
 * <p>{@link #acquire()} decides, and when neither is possible it skips the calling test (a JUnit
 * assumption) with a message naming what is missing and how to get it, or fails it when the
 * system property {@value #REQUIRED} is {@code true} (CI). Properties, all set by the module's pom:
 *
 * <ul>
 *   <li>{@value #REQUIRED}: {@code true} turns every skip into a failure;
 *   <li>{@value #KERNEL}: the kernel series to run on, {@code 6.12} (default) or {@code 7.3}: the
 *       guest boots it; natively, this machine's kernel must be of that series;
 *   <li>{@value #MODE}: {@code auto} (default), {@code guest} or {@code native};
 *   <li>{@value #TIMEOUT}: bound of one run in seconds (default 900);
 *   <li>{@value #GUEST_DIR}: the directory of the guest scripts (default {@code guest} under the
 *       working directory, which Surefire sets to the module).
 * </ul>
 */
public final class GuestVm {

    /** System property: {@code true} makes missing prerequisites a failure instead of a skip. */
    public static final String REQUIRED = "vduse.it.required";
    /** System property: the kernel series, {@code 6.12} or {@code 7.3} (run-in-guest's --series). */
    public static final String KERNEL = "vduse.it.kernel";
    /** The series when {@value #KERNEL} is not set. */
    public static final String DEFAULT_KERNEL = "6.12";
    /** System property: where to run, {@code auto}, {@code guest} or {@code native}. */
    public static final String MODE = "vduse.it.mode";
    /** System property: wall-time bound of one run, seconds. */
    public static final String TIMEOUT = "vduse.it.timeout";
    /** System property: directory holding {@code run-in-guest}. */
    public static final String GUEST_DIR = "vduse.it.guest.dir";

    private static final Path CONTROL = Path.of("/dev/vduse/control");

    /** Where a program ran. */
    public enum Where {
        /** In a QEMU guest. */
        GUEST,
        /** On this machine's own kernel. */
        NATIVE
    }

    /**
     * How a run ended.
     *
     * @param exitStatus the program's exit status (in a guest: 124 when killed at the timeout,
     *     125 when the guest failed before the program could report)
     * @param output what the program wrote to stdout and stderr
     * @param harnessLog what the harness (run-in-guest) wrote: timing, log paths, errors
     * @param elapsed wall time of the run, guest boot included
     * @param where where it ran
     */
    public record Result(int exitStatus, String output, String harnessLog, Duration elapsed, Where where) {

        /** The output's lines. */
        public List<String> lines() {
            return output.lines().toList();
        }

        /** Everything, for an assertion message. */
        public String describe() {
            return "exit status %d after %s (%s)%n--- output ---%n%s%n--- harness ---%n%s"
                    .formatted(exitStatus, elapsed, where, output, harnessLog);
        }
    }

    private final Where where;
    private final String kernel;
    private final Path runInGuest;
    private final long timeoutSeconds;

    private GuestVm(Where where, String kernel, Path runInGuest, long timeoutSeconds) {
        this.where = where;
        this.kernel = kernel;
        this.runInGuest = runInGuest;
        this.timeoutSeconds = timeoutSeconds;
    }

    /** Where programs will run. */
    public Where where() {
        return where;
    }

    /** The same guest with another bound on one run, for a test that needs longer than {@value #TIMEOUT}. */
    public GuestVm withTimeout(long seconds) {
        return new GuestVm(where, kernel, runInGuest, seconds);
    }

    /** The kernel series programs run on ({@value #KERNEL}), e.g. {@code 6.12}. */
    public String kernel() {
        return kernel;
    }

    /** The series asked for with {@value #KERNEL}, before any guest is acquired. */
    public static String requestedKernel() {
        return System.getProperty(KERNEL, DEFAULT_KERNEL).strip();
    }

    /** What {@link #acquire()} decided the first time: a {@link GuestVm} or the reason there is none. */
    private static Object decision;

    /**
     * A place to run kernel tests, or the calling test is skipped (failed if {@value #REQUIRED}).
     * Decided once per JVM; every later call gives the same answer, so each test of a class can
     * call this and is skipped (or failed) with the same message.
     */
    public static synchronized GuestVm acquire() {
        if (decision == null) {
            try {
                decision = decide();
            } catch (UnavailableException e) {
                decision = e.getMessage();
            }
        }
        if (decision instanceof GuestVm vm) {
            return vm;
        }
        String message = "Real-kernel VDUSE tests (kernel " + requestedKernel() + ") cannot run: " + decision;
        if (Boolean.getBoolean(REQUIRED)) {
            fail(message + "\n(-D" + REQUIRED + "=true makes this a failure; without it the tests are skipped)");
        }
        abort(message);
        throw new AssertionError("unreachable");
    }

    /** Why no kernel tests can run here. */
    private static final class UnavailableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnavailableException(String message) {
            super(message, null, false, false);
        }
    }

    private static GuestVm decide() throws UnavailableException {
        boolean required = Boolean.getBoolean(REQUIRED);
        String mode = System.getProperty(MODE, "auto").toLowerCase(Locale.ROOT);
        long timeout = Long.getLong(TIMEOUT, 900);
        String kernel = requestedKernel();
        if (!kernel.matches("6\\.12|7\\.3")) {
            fail("%s must be 6.12 or 7.3, not '%s'".formatted(KERNEL, kernel));
        }
        Path scripts = Path.of(System.getProperty(GUEST_DIR, "guest")).toAbsolutePath().normalize();
        Path runInGuest = scripts.resolve("run-in-guest");

        // Natively only on a kernel of the series asked for: the tests pin that series' answers.
        String hostKernel = System.getProperty("os.version");
        boolean hostIsSeries = hostKernel.startsWith(kernel + ".") || hostKernel.startsWith(kernel + "-");
        boolean nativeOk = Files.exists(CONTROL) && isRoot() && hostIsSeries;
        switch (mode) {
            case "auto", "native" -> {
                if (nativeOk) {
                    return new GuestVm(Where.NATIVE, kernel, runInGuest, timeout);
                }
                if (mode.equals("native")) {
                    throw new UnavailableException("%s=native, but %s".formatted(MODE, !Files.exists(CONTROL)
                            ? CONTROL + " does not exist (modprobe vduse, or run in the guest: -D" + MODE + "=guest)"
                            : !isRoot() ? "we are not root (VDUSE_CREATE_DEV needs CAP_SYS_ADMIN)"
                            : "this machine runs Linux %s, not %s (-D%s)".formatted(hostKernel, kernel, KERNEL)));
                }
            }
            case "guest" -> { }
            default -> fail("%s must be auto, guest or native, not '%s'".formatted(MODE, mode));
        }

        if (!Files.isExecutable(runInGuest)) {
            throw new UnavailableException("the guest harness %s is missing or not executable (set -D%s=<vduse-it>/guest)"
                    .formatted(runInGuest, GUEST_DIR));
        }
        if (!required) {
            // With -Dvduse.it.required=true run-in-guest fetches the kernel itself and fails loudly.
            Result check = execute(List.of(runInGuest.toString(), "--series", kernel, "--check"),
                    Duration.ofMinutes(2), Where.GUEST);
            if (check.exitStatus() != 0) {
                throw new UnavailableException("no VDUSE of Linux %s here (%s) and no QEMU guest either:%n%s%nInstall with "
                        .formatted(kernel, Files.exists(CONTROL) ? "this machine runs " + hostKernel : CONTROL + " is absent",
                                check.output().strip())
                        + scripts.resolve("install-deps") + " (root) and " + scripts.resolve("fetch-kernel")
                        + " --series " + kernel + "; or run natively as root where the vduse module is loaded.");
            }
        }
        return new GuestVm(Where.GUEST, kernel, runInGuest, timeout);
    }

    /** Runs {@code command} as root where VDUSE is, with the caller's working directory. */
    public Result run(List<String> command) {
        if (where == Where.NATIVE) {
            return execute(command, Duration.ofSeconds(timeoutSeconds), Where.NATIVE);
        }
        List<String> full = new ArrayList<>(List.of(runInGuest.toString(),
                "--series", kernel, "--timeout", Long.toString(timeoutSeconds), "--"));
        full.addAll(command);
        // run-in-guest has its own bound; this one only catches a harness that hangs itself.
        return execute(full, Duration.ofSeconds(timeoutSeconds + 120), Where.GUEST);
    }

    /**
     * Runs {@code mainClass} (on this JVM's class path, which the guest sees at the same paths)
     * in a new JVM of this JVM's JDK, with native access enabled.
     */
    public Result runJava(Class<?> mainClass, String... args) {
        List<String> command = new ArrayList<>(javaCommand());
        command.add(mainClass.getName());
        command.addAll(List.of(args));
        return run(command);
    }

    /** {@code java ... -cp CLASSPATH} of this JDK, tuned to start fast under TCG. */
    public static List<String> javaCommand() {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-cp", classPath);
    }

    private static Result execute(List<String> command, Duration bound, Where where) {
        long start = System.nanoTime();
        Process process;
        try {
            // Not the test JVM's stdin: Surefire talks to its forked JVM through it.
            process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command.getFirst(), e);
        }
        StringBuilder harness = new StringBuilder();
        Thread errReader = Thread.ofVirtual().start(() -> copy(process.getErrorStream(), harness, System.err, start));
        StringBuilder output = new StringBuilder();
        Thread watchdog = Thread.ofVirtual().start(() -> {
            try {
                if (!process.waitFor(bound.toSeconds(), TimeUnit.SECONDS)) {
                    synchronized (harness) {
                        harness.append("GuestVm: no result after ").append(bound).append("; killed\n");
                    }
                    process.descendants().forEach(ProcessHandle::destroyForcibly);
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        copy(process.getInputStream(), output, System.out, start);
        try {
            int status = process.waitFor();
            errReader.join();
            watchdog.interrupt();
            String log;
            synchronized (harness) {
                log = harness.toString();
            }
            return new Result(status, output.toString(), log, Duration.ofNanos(System.nanoTime() - start), where);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + command.getFirst(), e);
        }
    }

    /**
     * Copies lines to {@code sink} and echoes them (Surefire keeps them in the test's report), each
     * echoed line led by the seconds since the run started, so that a report shows where a guest
     * run spends its time (a JVM start, a fio job) without timing code in the scripts.
     */
    private static void copy(InputStream in, StringBuilder sink, PrintStream echo, long start) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (sink) {
                    sink.append(line).append('\n');
                }
                echo.printf("[%4d s] %s%n", TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start), line);
            }
        } catch (IOException e) {
            synchronized (sink) {
                sink.append("(reading failed: ").append(e).append(")\n");
            }
        }
    }

    private static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[2].equals("0"); // effective uid
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }
}
