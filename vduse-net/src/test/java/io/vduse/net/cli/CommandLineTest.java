package io.vduse.net.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The vduse-net command line: help, and every bad value refused naming its option with exit code 2. */
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
        for (String option : List.of("--name", "--tap", "--peer", "--mac", "--mtu", "--queue-size", "--packed-ring",
                "--stats-interval", "--reconnect", "vdpa dev add name NAME mgmtdev vduse", "vduse-net: ready: ")) {
            assertThat(help.out()).contains(option);
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--mac|52:54:00:12:34",
        "--mac|52:54:00:12:34:zz",
        "--mac|01:00:5e:00:00:01",
        "--mtu|67",
        "--mtu|65536",
        "--mtu|big",
        "--queue-size|100",
        "--queue-size|65536",
        "--stats-interval|-1",
        "--tap|a-name-of-16-bytes",
        "--tap|a/b",
        "--name|a/b",
        "--peer|net0",
    })
    void aBadValueIsRefusedNamingItsOption(String option, String value) {
        List<String> args = new ArrayList<>();
        if (!option.equals("--name")) {
            args.addAll(List.of("--name", "net0"));
        }
        if (!option.equals("--tap") && !option.equals("--peer")) {
            args.addAll(List.of("--tap", "tap0"));
        }
        args.addAll(List.of(option, value));
        Run bad = run(args.toArray(String[]::new));
        assertThat(bad.code()).as(bad.err()).isEqualTo(2);
        assertThat(bad.err()).contains(option);
        assertThat(bad.err()).doesNotContain("Exception");
    }

    @Test
    void aBackendIsRequiredAndOnlyOne() {
        Run none = run("--name", "net0");
        assertThat(none.code()).isEqualTo(2);
        assertThat(none.err()).contains("--tap").contains("--peer");
        Run both = run("--name", "net0", "--tap", "tap0", "--peer", "net1");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("exclude each other");
        Run noName = run("--tap", "tap0");
        assertThat(noName.code()).isEqualTo(2);
        assertThat(noName.err()).contains("--name");
    }

    @Test
    void withoutVduseThePeerRunFailsWithExitCodeOneSayingWhy() {
        Assumptions.assumeFalse(Files.exists(Path.of("/dev/vduse/control")), "VDUSE is loaded here");
        Run run = run("--name", "net0", "--peer", "net1");
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).startsWith("vduse-net: ").contains("control");
        assertThat(run.out()).contains("vduse-net: stopped");
    }
}
