package io.vduse.blk.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The systemd unit template shipped in the distribution ({@code src/main/dist/systemd}): a
 * notify service per device name whose command line, with the example options file, is one
 * this tool takes.
 */
class SystemdUnitTest {

    private static final Path DIR = Path.of("src/main/dist/systemd");

    @Test
    void theTemplateIsANotifyServicePerDeviceName() throws IOException {
        Map<String, String> service = section(DIR.resolve("vduse-blk@.service"), "Service");
        assertThat(service).containsEntry("Type", "notify").containsEntry("NotifyAccess", "main")
                .containsEntry("EnvironmentFile", "/etc/vduse-blk/%i.conf").containsEntry("Restart", "on-failure")
                .containsEntry("SuccessExitStatus", "143"); // the JVM's exit after SIGTERM
        assertThat(service.get("ExecStart")).contains("--name %i").contains("$VDUSE_BLK_OPTIONS");
    }

    @Test
    void itsCommandLineWithTheExampleOptionsParses() throws IOException {
        String execStart = section(DIR.resolve("vduse-blk@.service"), "Service").get("ExecStart");
        String options = Files.readAllLines(DIR.resolve("vduse-blk.conf.example")).stream()
                .filter(l -> l.startsWith("VDUSE_BLK_OPTIONS=")).findFirst().orElseThrow()
                .substring("VDUSE_BLK_OPTIONS=".length());
        List<String> words = new ArrayList<>(Arrays.asList(execStart.replace("%i", "disk0")
                .replace("$VDUSE_BLK_OPTIONS", options).split("\\s+")));
        words.removeFirst(); // the launcher
        VduseBlkCommand command = new VduseBlkCommand();
        new CommandLine(command).parseArgs(words.toArray(String[]::new));
        assertThat(command.name).isEqualTo("disk0");
        assertThat(command.reconnect).isTrue();
        assertThat(command.attach).isEqualTo("virtio");
    }

    /** The {@code key=value} lines of one section of a unit file. */
    private static Map<String, String> section(Path unit, String name) throws IOException {
        Map<String, String> entries = new LinkedHashMap<>();
        boolean inside = false;
        for (String line : Files.readAllLines(unit)) {
            String l = line.strip();
            if (l.startsWith("[")) {
                inside = l.equals("[" + name + "]");
            } else if (inside && !l.isEmpty() && !l.startsWith("#")) {
                int eq = l.indexOf('=');
                entries.put(l.substring(0, eq), l.substring(eq + 1));
            }
        }
        return entries;
    }
}
