package io.vduse.it;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One run of a guest script (under {@code src/test/resources/io/vduse/it}): for vduse-blk's, the
 * {@code vduse-blk} launcher is passed in its environment (run-in-guest adds the guest kernel's
 * directory, for the script's {@code modprobe -d}), and its {@code CHECK name=value} lines are
 * collected.
 */
final class BlkGuestRun {

    /** System property: the vduse-blk launcher script (set by the module's pom). */
    static final String LAUNCHER = "vduse.it.blk.launcher";

    final GuestVm.Result result;
    final Map<String, String> checks = new LinkedHashMap<>();

    private BlkGuestRun(GuestVm.Result result) {
        this.result = result;
        for (String line : result.lines()) {
            if (line.startsWith("CHECK ")) {
                int eq = line.indexOf('=');
                checks.put(line.substring(6, eq), line.substring(eq + 1));
            }
        }
    }

    /** Runs {@code script} where VDUSE is, with {@code env} ({@code NAME=VALUE}) added to its environment. */
    static BlkGuestRun run(GuestVm vm, String script, String... env) {
        List<String> all = new ArrayList<>(List.of(env));
        all.addAll(List.of(
                "BLK=" + Path.of(System.getProperty(LAUNCHER, "../vduse-blk/bin/vduse-blk")).toAbsolutePath().normalize(),
                "VDUSE_BLK_JAVA_OPTS=" + BlkAotCache.javaOptions()));
        return runScript(vm, script, all);
    }

    /**
     * Runs {@code script} where VDUSE is with only {@code env} added, no vduse-blk launcher (a
     * guest script of another tool's: NetDeviceTest's).
     */
    static BlkGuestRun runScript(GuestVm vm, String script, List<String> env) {
        Path path;
        try {
            path = Path.of(BlkGuestRun.class.getResource(script).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        List<String> command = new ArrayList<>(List.of("env"));
        command.addAll(env);
        command.addAll(List.of("bash", path.toString()));
        return new BlkGuestRun(vm.run(command));
    }

    /** The value of check {@code name}, or null if the script did not get that far. */
    String check(String name) {
        return checks.get(name);
    }
}
