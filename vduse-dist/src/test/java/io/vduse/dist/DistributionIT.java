package io.vduse.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The distribution archive as a user gets it: unpacked into an empty directory, its launcher runs
 * {@code vduse-blk --simulate} with an environment holding nothing but {@code PATH=/nonexistent}
 * (no JDK, no {@code JAVA_HOME}, not even a shell tool to call), and the simulated run verifies
 * every byte it reads back. The archive also carries what vduse-blk ships beside its jar
 * ({@code vduse-blk/src/main/dist}) and the licence.
 */
class DistributionIT {

    private static Path home;

    @BeforeAll
    static void unpack() throws Exception {
        Path archive = Path.of(System.getProperty("vduse.dist.archive"));
        assertThat(archive).as("the distribution archive").isRegularFile();
        Path work = Path.of(System.getProperty("vduse.dist.work"));
        deleteTree(work);
        Files.createDirectories(work);
        Process tar = new ProcessBuilder("tar", "-xzf", archive.toString(), "-C", work.toString())
                .redirectErrorStream(true).start();
        String output = new String(tar.getInputStream().readAllBytes());
        assertThat(tar.waitFor()).as("tar: %s", output).isZero();
        try (Stream<Path> top = Files.list(work)) {
            assertThat(top.map(p -> p.getFileName().toString()).toList())
                    .as("one top directory").containsExactly(System.getProperty("vduse.dist.name"));
        }
        home = work.resolve(System.getProperty("vduse.dist.name"));
    }

    @Test
    void theLauncherRunsTheSimulatedDeviceWithNoJdkAndAnEmptyPath() throws Exception {
        ProcessBuilder run = new ProcessBuilder(home.resolve("bin/vduse-blk").toString(),
                "--simulate", "--simulate-requests", "2000", "--simulate-seed", "18")
                .directory(home.toFile()).redirectErrorStream(true);
        run.environment().clear();
        run.environment().put("PATH", "/nonexistent");
        Process process = run.start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("exited: %s", output).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        assertThat(output).contains("read back and verified, every byte equal");
    }

    /*
     * SIGTERM stops the tool from its own thread: the device is destroyed before the JVM's exit,
     * so the recording -XX:StartFlightRecording writes at exit holds it. (Left to the JVM's exit,
     * the signal ended the process with the same status, but with the device never closed and the
     * recording without its DeviceDestroyed.)
     */
    @Test
    void sigtermStopsTheDeviceBeforeTheExitAndTheExitRecordingSeesItDestroyed() throws Exception {
        Path recording = Path.of(System.getProperty("vduse.dist.work"), "sigterm.jfr");
        Files.deleteIfExists(recording);
        ProcessBuilder run = new ProcessBuilder(home.resolve("bin/vduse-blk").toString(),
                "--simulate", "--simulate-requests", "1000000000", "--simulate-seed", "19")
                .directory(home.toFile()).redirectErrorStream(true);
        run.environment().put("VDUSE_BLK_JAVA_OPTS", "-XX:StartFlightRecording=filename=" + recording);
        Process process = run.start();
        StringBuilder output = new StringBuilder();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream()))) {
            String line;
            while ((line = lines.readLine()) != null) {
                output.append(line).append('\n');
                if (line.startsWith("simulate: device ")) {
                    break;
                }
            }
            assertThat(output).as("the simulation started").contains("simulate: device ");
            Thread.sleep(500); // some requests served
            process.toHandle().destroy(); // SIGTERM (Process.destroy would also close our end of the pipe)
            while ((line = lines.readLine()) != null) {
                output.append(line).append('\n');
            }
        }
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("exited: %s", output).isTrue();
        assertThat(process.exitValue()).as(output.toString()).isEqualTo(143);
        assertThat(output).contains("simulate: stopped after").contains("every byte equal");
        List<String> destroyed = RecordingFile.readAllEvents(recording).stream()
                .map(RecordedEvent::getEventType).map(t -> t.getName())
                .filter(name -> name.equals("io.vduse.DeviceDestroyed")).toList();
        assertThat(destroyed).as("DeviceDestroyed in the exit recording; output:%n%s", output).hasSize(1);
    }

    @Test
    void theImageHoldsItsOwnRuntimeWithTheToolsModulesAndNoOther() throws Exception {
        assertThat(Files.getPosixFilePermissions(home.resolve("bin/vduse-blk"))).contains(PosixFilePermission.OWNER_EXECUTE);
        assertThat(Files.getPosixFilePermissions(home.resolve("bin/java"))).contains(PosixFilePermission.OWNER_EXECUTE);
        String release = Files.readString(home.resolve("release"));
        assertThat(release).contains("JAVA_VERSION=\"25");
        String modules = release.lines().filter(l -> l.startsWith("MODULES=")).findFirst().orElseThrow();
        assertThat(modules).contains("io.vduse.blk", "io.vduse.core", "io.vduse.api", "io.vduse.iova",
                "io.vduse.virtqueue", "info.picocli", "jdk.jfr", "jdk.management.agent");
        // Linked, not a JDK: no compiler and no jlink in the image.
        assertThat(modules).doesNotContain("jdk.compiler", "jdk.jlink");
        assertThat(home.resolve("bin/javac")).doesNotExist();
        assertThat(home.resolve("LICENSE")).isRegularFile();
    }

    @Test
    void everyFileVduseBlkShipsBesideItsJarIsInTheArchive() throws IOException {
        Path dist = Path.of(System.getProperty("vduse.root"), "vduse-blk/src/main/dist");
        if (!Files.isDirectory(dist)) {
            return; // nothing shipped yet: nothing to find
        }
        List<Path> files;
        try (Stream<Path> walk = Files.walk(dist)) {
            files = walk.filter(Files::isRegularFile).map(dist::relativize).toList();
        }
        for (Path file : files) {
            assertThat(home.resolve(file)).as("%s in the archive", file).isRegularFile()
                    .hasSameBinaryContentAs(dist.resolve(file));
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
