package io.vduse.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Compiles and runs a C program that prints the value of C expressions ({@code sizeof},
 * {@code offsetof}, macros) as the machine's kernel headers define them.
 *
 * <p>Each expression may be guarded by a macro: it is printed only where the header defines
 * that macro, so a probe of API v1 fields runs against old and new headers alike.
 */
final class HeaderProbe {

    /**
     * One expression to evaluate, printed only if the macro {@code guard} is defined, or only if it
     * is not for {@code !MACRO}, or always for {@code null}.
     */
    record Probe(String key, String cExpression, String guard) {}

    private HeaderProbe() {}

    /** The first C compiler on the PATH: {@code cc} or {@code gcc}. */
    static Optional<Path> compiler() {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        return Stream.of(path.split(":"))
                .flatMap(dir -> Stream.of(Path.of(dir, "cc"), Path.of(dir, "gcc")))
                .filter(Files::isExecutable)
                .findFirst();
    }

    /**
     * Evaluates the probes against the machine's own headers.
     *
     * @return key to value, for each probe whose guard is defined
     */
    static Map<String, Long> run(Path compiler, List<String> includes, List<Probe> probes, Path workDir)
            throws IOException, InterruptedException {
        return run(compiler, null, includes, probes, workDir);
    }

    /**
     * Evaluates the probes against the uapi headers unpacked under {@code headerRoot} (the
     * {@code usr/include} of a {@code linux-libc-dev} package), searched before the machine's.
     *
     * @param headerRoot null for the machine's headers alone
     * @return key to value, for each probe whose guard is defined
     */
    static Map<String, Long> run(Path compiler, Path headerRoot, List<String> includes, List<Probe> probes,
            Path workDir) throws IOException, InterruptedException {
        StringBuilder c = new StringBuilder();
        c.append("#include <sys/ioctl.h>\n#include <stddef.h>\n#include <stdio.h>\n");
        includes.forEach(h -> c.append("#include <").append(h).append(">\n"));
        c.append("int main(void) {\n");
        for (Probe p : probes) {
            if (p.guard() != null) {
                c.append(p.guard().startsWith("!") ? "#ifndef " + p.guard().substring(1) : "#ifdef " + p.guard())
                        .append('\n');
            }
            c.append("    printf(\"%s %llu\\n\", \"").append(p.key())
                    .append("\", (unsigned long long) (").append(p.cExpression()).append("));\n");
            if (p.guard() != null) {
                c.append("#endif\n");
            }
        }
        c.append("    return 0;\n}\n");
        Path source = workDir.resolve("probe.c");
        Path binary = workDir.resolve("probe");
        Files.writeString(source, c);
        List<String> command = new java.util.ArrayList<>(List.of(compiler.toString(), "-Wall", "-Werror"));
        if (headerRoot != null) {
            // The package's own asm/ directory goes with its linux/ one: both before the machine's.
            command.addAll(List.of("-isystem", headerRoot.toString(),
                    "-isystem", headerRoot.resolve("x86_64-linux-gnu").toString()));
        }
        command.addAll(List.of("-o", binary.toString(), source.toString()));
        String compileOutput = exec(command, "compiling the header probe");
        if (!Files.isExecutable(binary)) {
            throw new IllegalStateException("the header probe did not compile:\n" + compileOutput);
        }
        Map<String, Long> values = new LinkedHashMap<>();
        for (String line : exec(List.of(binary.toString()), "running the header probe").split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.split(" ");
            values.put(parts[0], Long.parseUnsignedLong(parts[1]));
        }
        return values;
    }

    private static String exec(List<String> command, String what) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException(what + " timed out");
        }
        if (process.exitValue() != 0) {
            throw new IllegalStateException(what + " failed with exit " + process.exitValue() + ":\n" + output);
        }
        return output;
    }
}
