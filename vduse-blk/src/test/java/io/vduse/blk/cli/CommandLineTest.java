package io.vduse.blk.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The vduse-blk command line: help, every bad value refused naming its option, and --simulate end to end. */
class CommandLineTest {

    /** What one run printed, and its exit code. */
    record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void helpExplainsEveryOption() {
        Run help = run("--help");
        assertThat(help.code()).isZero();
        for (String option : List.of("--name", "--file", "--size", "--num-queues", "--queue-size",
                "--logical-block-size", "--serial", "--writable", "--read-only", "--direct", "--reconnect",
                "--stats-interval", "--simulate", "--vduse-api", "--user-bounce-memory", "--[no-]packed-ring",
                "--inflight-log-dir", "--aio", "--io-threads", "--attach", "--pidfile",
                "--nbd", "--nbd-timeout", "nbd+unix:///EXPORT?socket=PATH",
                "vdpa dev add name NAME mgmtdev vduse", "vduse-blk: ready: ", "NOTIFY_SOCKET READY=1")) {
            assertThat(help.out()).contains(option);
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--num-queues|0",
        "--num-queues|65",
        "--num-queues|two",
        "--queue-size|100",
        "--queue-size|2",
        "--queue-size|2048",
        "--logical-block-size|1000",
        "--logical-block-size|256",
        "--logical-block-size|8192",
        "--serial|this-serial-is-longer-than-twenty",
        "--size|12X",
        "--size|1000",
        "--size|0",
        "--size|99999999999T",
        "--name|a/b",
        "--stats-interval|-1",
        "--stats-interval|soon",
        "--simulate-requests|0",
        "--vduse-api|2",
        "--vduse-api|-1",
        "--vduse-api|one",
        "--aio|libaio",
        "--io-threads|4",
        "--attach|vhostt",
        "--attach|VIRTIO",
    })
    void badValuesAreRefusedNamingTheOption(String option, String value) {
        Run bad = run("--name", "x0", "--size", "1M", option, value);
        assertThat(bad.code()).as(bad.err()).isEqualTo(2);
        assertThat(bad.err()).contains(option);
    }

    @Test
    void serviceOptionsDoNotGoWithSimulate() {
        Run attach = run("--simulate", "--attach");
        assertThat(attach.code()).isEqualTo(2);
        assertThat(attach.err()).contains("--attach").contains("no vDPA bus");
        Run vhost = run("--simulate", "--attach", "vhost");
        assertThat(vhost.code()).isEqualTo(2);
        assertThat(vhost.err()).contains("--attach");
        Run pidFile = run("--simulate", "--pidfile", "/tmp/x.pid");
        assertThat(pidFile.code()).isEqualTo(2);
        assertThat(pidFile.err()).contains("--pidfile");
    }

    @Test
    void attachTakesNoValueOrADriverName() {
        assertThat(ServiceOptions.driverOf("virtio")).isEqualTo(io.vduse.core.vdpa.VdpaDriver.VIRTIO_VDPA);
        assertThat(ServiceOptions.driverOf("vhost_vdpa")).isEqualTo(io.vduse.core.vdpa.VdpaDriver.VHOST_VDPA);
        // --attach with no value, followed by another option: the default driver, not a bad value.
        Run bare = run("--name", "x0", "--attach", "--size", "1M");
        assertThat(bare.err()).doesNotContain("Invalid value");
        assertThat(bare.code()).isNotEqualTo(2);
    }

    @Test
    void conflictingOrMissingOptionsAreRefused() {
        Run both = run("--name", "x0", "--size", "1M", "--writable", "--read-only");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--writable").contains("--read-only");
        Run noName = run("--size", "1M");
        assertThat(noName.code()).isEqualTo(2);
        assertThat(noName.err()).contains("--name");
        Run noBackend = run("--name", "x0");
        assertThat(noBackend.code()).isEqualTo(2);
        assertThat(noBackend.err()).contains("--file").contains("--size");
        for (String threads : List.of("0", "257", "many")) {
            Run badThreads = run("--name", "x0", "--size", "1M", "--aio", "threads", "--io-threads", threads);
            assertThat(badThreads.code()).as(badThreads.err()).isEqualTo(2);
            assertThat(badThreads.err()).contains("--io-threads");
        }
        Run directInMemory = run("--name", "x0", "--size", "1M", "--direct");
        assertThat(directInMemory.code()).isEqualTo(2);
        assertThat(directInMemory.err()).contains("--direct");
    }

    @Test
    void withoutVduseItSaysHowToLoadTheModule() {
        Assumptions.assumeFalse(Files.exists(Path.of("/dev/vduse/control")), "this machine has VDUSE");
        Run run = run("--name", "x0", "--size", "1M");
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("/dev/vduse/control").contains("modprobe vduse").contains("--simulate");
    }

    @Test
    void simulateVerifiesEveryByteOverAllQueues() {
        Run run = run("--simulate", "--num-queues", "3", "--queue-size", "64", "--size", "8M",
                "--simulate-requests", "3000", "--simulate-seed", "11");
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("seed 11").contains("IOPS").contains("every byte equal");
        for (int q = 0; q < 3; q++) {
            assertThat(run.out()).containsPattern("queue " + q + ": [1-9][0-9]* reads");
        }
        // The driver's bring-up is status writes; nothing here suspends or moves a group.
        assertThat(run.out()).containsPattern("(?m)^control messages: GET_VQ_STATE [0-9]+, SET_STATUS [1-9][0-9]*, "
                + "UPDATE_IOTLB [0-9]+, SET_VQ_GROUP_ASID 0, SET_VQ_READY [0-9]+, SUSPEND 0$");
    }

    @Test
    void simulateTakesEitherApiVersion() {
        for (String api : List.of("0", "1")) {
            Run run = run("--simulate", "--size", "4M", "--simulate-requests", "200", "--vduse-api", api);
            assertThat(run.code()).as(run.out() + run.err()).isZero();
            assertThat(run.out()).contains("VDUSE API " + api).contains("every byte equal");
        }
    }

    @Test
    void simulateWithUserBounceMemoryVerifiesEveryByte() {
        // 64 MiB pinned: the simulated kernel holds that to this process's RLIMIT_MEMLOCK, which
        // the SDK raises where it may; where it may not, the refusal is said and the run goes on.
        Run run = run("--simulate", "--num-queues", "2", "--size", "4M", "--simulate-requests", "2000",
                "--user-bounce-memory");
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("every byte equal").containsPattern("simulate: the bounce buffer (is the "
                + "device's own memory|stayed the kernel's)");
    }

    @Test
    void simulateOnIoThreadsVerifiesEveryByte() {
        Run run = run("--simulate", "--num-queues", "2", "--size", "4M", "--simulate-requests", "2000",
                "--aio", "threads", "--io-threads", "4");
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("every byte equal");
    }

    @ParameterizedTest
    @ValueSource(strings = {"io_uring", "threads", "sync"})
    void simulateOnAFileVerifiesEveryByteWithEveryEngine(String engine) throws Exception {
        // Under the build directory: the system's temporary directory may be a tmpfs, whose files
        // are not served on io_uring whatever the engine asked for.
        Path dir = Files.createDirectories(Path.of("target"));
        Path file = dir.resolve("sim-" + engine + ".img");
        Files.deleteIfExists(file);
        try {
            Run run = run("--simulate", "--file", file.toString(), "--size", "4M", "--num-queues", "2",
                    "--simulate-requests", "2000", "--aio", engine);
            assertThat(run.code()).as(run.out() + run.err()).isZero();
            assertThat(run.out()).contains("every byte equal");
            if (!run.out().contains("--aio io_uring: the file is in memory")) {
                assertThat(run.out()).contains(", aio " + engine);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void theDefaultEngineIsIoUringAndAMemoryDeviceSaysItIsServedSync() {
        Run onMemory = run("--simulate", "--size", "4M", "--simulate-requests", "200");
        assertThat(onMemory.code()).as(onMemory.out() + onMemory.err()).isZero();
        assertThat(onMemory.out()).contains(", aio sync").contains("--aio io_uring: the backend is not a file");
        Run wrong = run("--name", "x0", "--size", "1M", "--aio", "native");
        assertThat(wrong.code()).isEqualTo(2);
        assertThat(wrong.err()).contains("io_uring, threads and sync");
    }

    @Test
    void simulateOnAFileWith4kBlocks(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("sim.img");
        Run run = run("--simulate", "--file", file.toString(), "--size", "4M", "--logical-block-size", "4096",
                "--simulate-requests", "400");
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("every byte equal");
        assertThat(Files.size(file)).isEqualTo(4L << 20);
    }

    @Test
    void sizesTakeBinarySuffixes() {
        SizeConverter sizes = new SizeConverter();
        assertThat(sizes.convert("4096")).isEqualTo(4096L);
        assertThat(sizes.convert("64K")).isEqualTo(64L << 10);
        assertThat(sizes.convert("100m")).isEqualTo(100L << 20);
        assertThat(sizes.convert("2G")).isEqualTo(2L << 30);
        assertThat(sizes.convert("1TiB")).isEqualTo(1L << 40);
    }

    @ParameterizedTest
    @ValueSource(strings = {"localhost/disk", "http://host/disk", "nbds://host/disk", "nbd:///disk",
        "nbd://host:0/disk", "nbd://host:x", "nbd+unix:///disk", "nbd+unix://host/d?socket=/s",
        "nbd+unix:///d?path=/s"})
    void badNbdUrisAreRefusedNamingTheOption(String uri) {
        Run bad = run("--name", "x0", "--nbd", uri);
        assertThat(bad.code()).as(bad.err()).isEqualTo(2);
        assertThat(bad.err()).contains("--nbd").contains(uri);
    }

    @Test
    void nbdExcludesFileSizeAndSimulate() {
        Run withFile = run("--name", "x0", "--nbd", "nbd://localhost/d", "--file", "/tmp/x.img");
        assertThat(withFile.code()).isEqualTo(2);
        assertThat(withFile.err()).contains("--nbd").contains("--file");
        Run withSize = run("--name", "x0", "--nbd", "nbd://localhost/d", "--size", "1M");
        assertThat(withSize.code()).isEqualTo(2);
        assertThat(withSize.err()).contains("--nbd").contains("--size");
        Run withSimulate = run("--simulate", "--nbd", "nbd://localhost/d");
        assertThat(withSimulate.code()).isEqualTo(2);
        assertThat(withSimulate.err()).contains("--nbd").contains("--simulate");
        Run withDirect = run("--name", "x0", "--nbd", "nbd://localhost/d", "--direct");
        assertThat(withDirect.code()).isEqualTo(2);
        assertThat(withDirect.err()).contains("--direct");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-5", "3601", "soon"})
    void badNbdTimeoutsAreRefused(String seconds) {
        Run bad = run("--name", "x0", "--nbd", "nbd://localhost/d", "--nbd-timeout", seconds);
        assertThat(bad.code()).as(bad.err()).isEqualTo(2);
        assertThat(bad.err()).contains("--nbd-timeout");
        Run withoutNbd = run("--name", "x0", "--size", "1M", "--nbd-timeout", "10");
        assertThat(withoutNbd.code()).isEqualTo(2);
        assertThat(withoutNbd.err()).contains("--nbd-timeout").contains("only with --nbd");
    }

    @Test
    void anExportTheServerDoesNotHaveIsSaidWithExitCode1() throws Exception {
        try (io.vduse.blk.nbd.FakeNbdServer server = io.vduse.blk.nbd.FakeNbdServer.tcp(1 << 20, 1)) {
            Run run = run("--name", "x0", "--nbd", "nbd://127.0.0.1:" + server.port() + "/missing");
            assertThat(run.code()).isEqualTo(1);
            assertThat(run.err()).contains("vduse-blk: cannot open the backend: 127.0.0.1:" + server.port()
                    + " refused export 'missing': NBD_REP_ERR_UNKNOWN: no such export");
        }
    }

    @Test
    void nobodyListeningIsSaidWithExitCode1(@TempDir Path dir) {
        Run run = run("--name", "x0", "--nbd", "nbd+unix:///d?socket=" + dir.resolve("none.sock"));
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("cannot connect to " + dir.resolve("none.sock"));
    }
}
