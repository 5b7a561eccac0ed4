package io.vduse.it;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An ahead-of-time cache (JDK 25, {@code -XX:AOTCache}) of the vduse-blk launcher's classes,
 * made on the host by a short {@code --simulate} run, for the guest scripts' device starts.
 *
 * <p>Under TCG a vduse-blk start in the guest took 46 s to its "Attach it:" line, 26 s with this
 * cache: the JVM then maps classes already parsed, verified and linked (the FFM and picocli
 * ones included) instead of loading them. The guest runs the host's JDK and jars at the same
 * paths (its / is the host's, read-only), which is what the cache is checked against; a JVM
 * that finds it does not match ignores it and starts as without one. So a cache that cannot be
 * made costs only time: the runs go on without it.
 */
final class BlkAotCache {

    /** System property: where the cache is made (set by the module's pom, under target/). */
    static final String PATH = "vduse.it.blk.aot";

    /** What every vduse-blk JVM in a guest runs with: it starts in seconds, not tens of seconds, under emulation. */
    static final String JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";

    /** The cache, or why there is none; made once per JVM. */
    private static Object cache;

    private BlkAotCache() {}

    /** The options a guest's vduse-blk runs with: {@link #JAVA_OPTS}, and the cache if there is one. */
    static synchronized String javaOptions() {
        if (cache == null) {
            cache = make();
        }
        if (cache instanceof Path path) {
            // The JVM's own messages about the cache stay out of the device logs the scripts read.
            return JAVA_OPTS + " -XX:AOTCache=" + path + " -Xlog:aot*=off -Xlog:cds*=off";
        }
        System.out.println("vduse-blk starts without an AOT cache: " + cache);
        return JAVA_OPTS;
    }

    /** Runs the launcher once with {@code -XX:AOTCacheOutput}; the path, or why it failed. */
    private static Object make() {
        Path launcher = Path.of(System.getProperty(BlkGuestRun.LAUNCHER, "../vduse-blk/bin/vduse-blk"))
                .toAbsolutePath().normalize();
        Path path = Path.of(System.getProperty(PATH, "target/vduse-blk.aot")).toAbsolutePath().normalize();
        try {
            Files.createDirectories(path.getParent());
            Files.deleteIfExists(path);
            ProcessBuilder builder = new ProcessBuilder(List.of(launcher.toString(), "--simulate",
                    "--simulate-requests", "2000"))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true);
            builder.environment().put("VDUSE_BLK_JAVA_OPTS", JAVA_OPTS + " -XX:AOTCacheOutput=" + path);
            Process process = builder.start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!process.waitFor(5, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                return "the training run (" + launcher + " --simulate) did not finish in 5 minutes";
            }
            if (process.exitValue() != 0 || !Files.isRegularFile(path)) {
                return "the training run exited with " + process.exitValue() + ": " + output;
            }
            System.out.printf("vduse-blk AOT cache: %s (%d bytes)%n", path, Files.size(path));
            return path;
        } catch (IOException e) {
            return e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return e.toString();
        }
    }
}
