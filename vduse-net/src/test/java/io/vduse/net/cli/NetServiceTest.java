package io.vduse.net.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.core.sim.SimulatedKernel;
import io.vduse.net.MacAddress;
import io.vduse.net.NetOptions;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * The tool's service on the simulated kernel, a cable's two devices: it says how to ask for the
 * counters, and a real SIGUSR1 to this JVM prints them, one line per device.
 */
class NetServiceTest {

    @Test
    void sigusr1PrintsEachDevicesCounters() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        NetOptions first = NetOptions.of("usr1a");
        NetService service = new NetService(first, first.withName("usr1b").withMac(MacAddress.random()), null, 0,
                new SimulatedKernel(), new PrintWriter(out, true), new PrintWriter(err, true));
        CompletableFuture<Integer> served = CompletableFuture.supplyAsync(() -> {
            try {
                return service.run();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            await(() -> out.toString().contains("vduse-net: ready: ") || served.isDone());
            long pid = ProcessHandle.current().pid();
            // Without the handler SIGUSR1 would end this JVM: send it only where the tool says it listens.
            assertThat(out.toString()).as(err.toString()).contains("; counters: kill -USR1 " + pid);

            Process kill = new ProcessBuilder("kill", "-USR1", Long.toString(pid)).inheritIO().start();
            assertThat(kill.waitFor()).isZero();

            await(() -> out.toString().contains("vduse-net: usr1b: "));
            assertThat(out.toString()).contains("vduse-net: usr1a: ");
        } finally {
            service.stop();
            assertThat(served.get(30, TimeUnit.SECONDS)).isZero();
        }
        // And at exit, as before.
        assertThat(out.toString().split("vduse-net: usr1a: ", -1)).hasSize(3);
        assertThat(out.toString()).endsWith("vduse-net: stopped" + System.lineSeparator());
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting");
            }
            Thread.sleep(10);
        }
    }
}
