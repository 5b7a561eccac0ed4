package io.vduse.blk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The serving path keeps to native memory segments: a JVM that never loads a heap segment class
 * has one implementation of the segment's accessors ({@code unsafeGetBase},
 * {@code unsafeGetOffset}, ...), so even the C1 compiler binds and inlines them. With one heap
 * segment anywhere in the process (an {@code ofArray} scratch buffer, say) C1 calls them through
 * the class hierarchy instead; under emulation, where the guest comparisons run C1 only, that
 * cost the device side of a 4 KiB request about half its speed (see vduse-bench's README).
 *
 * <p>The serving path runs in a JVM of its own ({@link NativeSegmentsProbe}), as the test's own
 * JVM has loaded heap segments for other tests; its class-loading log is then read.
 */
class NativeSegmentsTest {

    @TempDir
    Path dir;

    @Test
    void servingRequestsLoadsNoHeapSegmentClass() throws Exception {
        Path file = dir.resolve("disk.img");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(1L << 20);
        }
        Path classes = dir.resolve("classes.log");
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java, "-Xlog:class+load=info:file=" + classes,
                "--enable-native-access=io.vduse.core,io.vduse.blk"));
        // The test's JVM runs the module on the module path with the test classes patched in.
        command.addAll(List.of("--module-path", System.getProperty("jdk.module.path"),
                "--patch-module", "io.vduse.blk=" + Path.of("target/test-classes").toAbsolutePath(),
                "--module", "io.vduse.blk/" + NativeSegmentsProbe.class.getName(), file.toString()));
        Process probe = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(probe.waitFor(60, TimeUnit.SECONDS)).as("the probe ended").isTrue();
        assertThat(probe.exitValue()).as(output).isZero();
        assertThat(output).as("every request served").isEqualTo("served 16 requests");

        List<String> segmentClasses = Files.readAllLines(classes).stream()
                .filter(line -> line.contains("jdk.internal.foreign.") && line.contains("MemorySegmentImpl"))
                .map(line -> line.replaceAll(".*\\] (\\S+) source:.*", "$1"))
                .toList();
        assertThat(segmentClasses).as("memory-segment classes the serving path loaded")
                .contains("jdk.internal.foreign.NativeMemorySegmentImpl")
                .noneMatch(name -> name.startsWith("jdk.internal.foreign.HeapMemorySegmentImpl"));
    }
}
