package io.vduse.it;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The Debian trixie root of {@code vduse-it/guest/make-trixie-root} (QEMU 10 with libblkio), which
 * the vhost-vdpa tests chroot into. Without {@value GuestVm#REQUIRED} only a root that is there
 * already is used (building one downloads about 500 MiB as root) and its absence skips the calling
 * test with the reason; with it the root is built on demand and a failure fails the test.
 */
final class TrixieRoot {

    /** The root, or why there is none; decided once per JVM. */
    private static Object trixieRoot;

    private TrixieRoot() {}

    /** The trixie root, or the test is skipped (failed if {@value GuestVm#REQUIRED}). */
    static synchronized Path acquire() {
        if (trixieRoot == null) {
            trixieRoot = make();
        }
        if (trixieRoot instanceof Path root) {
            return root;
        }
        String message = "The vhost-vdpa checks need a Debian trixie root (QEMU 10 with libblkio): " + trixieRoot;
        if (Boolean.getBoolean(GuestVm.REQUIRED)) {
            fail(message);
        }
        abort(message);
        throw new AssertionError("unreachable");
    }

    /** Runs make-trixie-root: {@code --check} only, unless the tests are required. */
    private static Object make() {
        Path script = Path.of(System.getProperty(GuestVm.GUEST_DIR, "guest"), "make-trixie-root")
                .toAbsolutePath().normalize();
        boolean build = Boolean.getBoolean(GuestVm.REQUIRED);
        List<String> command = build ? List.of(script.toString()) : List.of(script.toString(), "--check");
        try {
            Process process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .start();
            // Its progress goes to stderr and the root's directory, last, to stdout.
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!process.waitFor(20, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                return String.join(" ", command) + " did not finish in 20 minutes";
            }
            System.out.println(output);
            List<String> lines = output.lines().toList();
            if (process.exitValue() == 0 && !lines.isEmpty() && Files.isDirectory(Path.of(lines.getLast()))) {
                return Path.of(lines.getLast());
            }
            return "%s exited with %d:%n%s%s".formatted(String.join(" ", command), process.exitValue(), output,
                    build ? "" : "\n(-D" + GuestVm.REQUIRED + "=true builds it; so does running the script as root)");
        } catch (IOException e) {
            return "cannot run " + script + ": " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while running " + script;
        }
    }
}
