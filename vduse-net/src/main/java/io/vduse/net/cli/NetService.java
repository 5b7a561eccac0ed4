package io.vduse.net.cli;

import io.vduse.core.Signals;
import io.vduse.core.VduseException;
import io.vduse.core.VduseKernel;
import io.vduse.net.NetBackend;
import io.vduse.net.NetOptions;
import io.vduse.net.TapBackend;
import io.vduse.net.VirtioNetDevice;
import io.vduse.net.VirtualCable;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Serves the device (and its --peer) until SIGINT or SIGTERM: starts the backend and the
 * device(s), says when they can be attached, prints the counters every --stats-interval, on
 * SIGUSR1 ({@link Signals}, as vduse-blk does) and at exit, and destroys what it made in reverse order.
 */
final class NetService {

    private final NetOptions first;
    private final NetOptions second;
    private final String tap;
    private final int statsInterval;
    private final VduseKernel kernel;
    private final PrintWriter out;
    private final PrintWriter err;
    private final CountDownLatch stop = new CountDownLatch(1);
    /** Counted down once everything is closed: the shutdown hook waits for it, or the JVM would halt first. */
    private final CountDownLatch done = new CountDownLatch(1);

    NetService(NetOptions first, NetOptions second, String tap, int statsInterval, VduseKernel kernel,
            PrintWriter out, PrintWriter err) {
        this.first = first;
        this.second = second;
        this.tap = tap;
        this.statsInterval = statsInterval;
        this.kernel = kernel;
        this.out = out;
        this.err = err;
    }

    /**
     * Asks {@link #run} to stop, as SIGTERM does (tests, which cannot send this JVM a SIGTERM
     * without ending it).
     */
    void stop() {
        stop.countDown();
    }

    int run() throws Exception {
        Runnable restoreUsr1 = null;
        List<AutoCloseable> made = new ArrayList<>();
        List<VirtioNetDevice> devices = new ArrayList<>();
        Thread hook = Thread.ofPlatform().unstarted(() -> {
            stop.countDown();
            try {
                done.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            if (second == null) {
                TapBackend backend = TapBackend.open(tap, kernel.runtimeDirectory(), first.reconnect());
                made.add(backend);
                try {
                    devices.add(start(first, backend, made));
                } catch (VduseException | RuntimeException e) {
                    // A TAP this found (a killed process's, with its addresses) stays for the next try.
                    if (!backend.created()) {
                        backend.detach();
                    }
                    throw e;
                }
                out.println("vduse-net: device " + first.name() + " (" + first.mac() + ", mtu " + first.mtu()
                        + ") bridged to " + (backend.created() ? "TAP " : "the existing TAP ") + backend.interfaceName()
                        + (first.reconnect() ? ", reconnected" : ""));
            } else {
                VirtualCable cable = new VirtualCable();
                devices.add(start(first, cable.left(), made));
                devices.add(start(second, cable.right(), made));
                out.println("vduse-net: devices " + first.name() + " (" + first.mac() + ") and " + second.name() + " ("
                        + second.mac() + ") on one cable, mtu " + first.mtu() + (first.reconnect() ? ", reconnected" : ""));
            }
            Runtime.getRuntime().addShutdownHook(hook);
            restoreUsr1 = Signals.replace("USR1", () -> printCounters(devices));
            long pid = ProcessHandle.current().pid();
            out.println("vduse-net: ready: " + String.join(", ", devices.stream().map(VirtioNetDevice::name).toList())
                    + " can be attached (vdpa dev add name NAME mgmtdev vduse); stop: kill -TERM " + pid
                    + (restoreUsr1 != null ? "; counters: kill -USR1 " + pid : ""));
            out.flush();
            if (statsInterval == 0) {
                stop.await();
            }
            while (!stop.await(statsInterval, TimeUnit.SECONDS)) {
                printCounters(devices);
            }
            return 0;
        } finally {
            if (restoreUsr1 != null) {
                restoreUsr1.run();
            }
            printCounters(devices);
            for (int i = made.size() - 1; i >= 0; i--) {
                try {
                    made.get(i).close();
                } catch (Exception e) {
                    err.println("vduse-net: closing " + made.get(i) + ": " + e.getMessage());
                }
            }
            out.println("vduse-net: stopped");
            out.flush();
            done.countDown();
        }
    }

    private VirtioNetDevice start(NetOptions options, NetBackend backend, List<AutoCloseable> made)
            throws VduseException {
        VirtioNetDevice device = VirtioNetDevice.start(options, backend, kernel);
        made.add(device);
        return device;
    }

    /** Every --stats-interval, on SIGUSR1 (on a signal thread of the JVM's) and at exit: one line at a time. */
    private synchronized void printCounters(List<VirtioNetDevice> devices) {
        for (VirtioNetDevice device : devices) {
            out.println("vduse-net: " + device.name() + ": " + device.counters());
        }
        out.flush();
    }
}
