package io.vduse.net.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/** The entry point of the {@code vduse-net} tool; {@code --help} says what it does. */
public final class Main {

    private Main() {}

    /** Runs the tool and exits with its exit code (0 fine, 1 failed, 2 bad options). */
    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the tool with the given output streams and returns its exit code. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine commandLine = new CommandLine(new VduseNetCommand());
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setExecutionExceptionHandler((e, cl, parsed) -> {
            cl.getErr().println("vduse-net: " + e.getMessage());
            cl.getErr().flush();
            return 1;
        });
        int code = commandLine.execute(args);
        out.flush();
        err.flush();
        return code;
    }
}
