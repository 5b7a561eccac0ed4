package io.vduse.blk.cli;

import io.vduse.blk.BlkOptions;
import io.vduse.blk.BlockBackend;
import io.vduse.blk.VirtioBlkDevice;
import io.vduse.core.VduseException;
import io.vduse.core.VduseKernel;
import io.vduse.blk.nbd.NbdBackend;
import io.vduse.blk.nbd.NbdUri;
import java.io.IOException;
import java.time.Duration;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Serves the device on the real kernel until SIGINT or SIGTERM: prints what to run next, checks
 * once a second whether the backing file changed size (and tells the driver), prints the
 * counters every {@code --stats-interval} and on SIGUSR1, and on the way out flushes the backend
 * and destroys the device.
 */
final class DeviceService {

    private static final Path CONTROL = Path.of("/dev/vduse/control");

    /** The options; the logical block size is settled once the backend is open. */
    private BlkOptions options;
    private final Integer askedBlockSize;
    private final Path file;
    private final long size;
    private final boolean direct;
    private final int statsInterval;
    private final PrintWriter out;
    private final PrintWriter err;
    private NbdUri nbd;
    private Duration nbdTimeout;
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);

    /**
     * @param askedBlockSize {@code --logical-block-size}, or null when not given: with
     *     {@code --direct} the disk's own then decides ({@link Backends#logicalBlockSize})
     */
    DeviceService(BlkOptions options, Integer askedBlockSize, Path file, long size, boolean direct,
            int statsInterval, PrintWriter out, PrintWriter err) {
        this.options = options;
        this.askedBlockSize = askedBlockSize;
        this.file = file;
        this.size = size;
        this.direct = direct;
        this.statsInterval = statsInterval;
        this.out = out;
        this.err = err;
    }

    /** Serves the export at {@code uri} (null: the file or memory) with requests bounded by {@code timeout}. */
    DeviceService nbd(NbdUri uri, Duration timeout) {
        this.nbd = uri;
        this.nbdTimeout = timeout;
        return this;
    }

    /** Runs until stopped; the exit code. */
    int run() throws InterruptedException {
        // An NBD server is asked first, so that a wrong URI or export is said whatever the kernel;
        // a file is opened (and maybe created) only where the device can start.
        BlockBackend opened = null;
        if (nbd != null) {
            try {
                opened = NbdBackend.connect(nbd, nbdTimeout, options.numQueues());
            } catch (IOException e) {
                err.println("vduse-blk: cannot open the backend: " + e.getMessage());
                err.flush();
                return 1;
            }
        }
        if (!vduseLoaded()) {
            if (opened != null) {
                closeQuietly(opened);
            }
            return 1;
        }
        if (opened == null) {
            try {
                opened = Backends.open(file, size, options.readOnly(), direct);
            } catch (IOException e) {
                err.println("vduse-blk: cannot open the backend: " + e.getMessage());
                err.flush();
                return 1;
            }
        }
        BlockBackend backend = opened;
        try {
            if (backend instanceof NbdBackend server) {
                options = Backends.nbdOptions(options, server.export(), askedBlockSize);
            } else {
                options = options.withLogicalBlockSize(Backends.logicalBlockSize(backend, askedBlockSize));
            }
        } catch (IOException e) {
            err.println("vduse-blk: " + e.getMessage());
            err.flush();
            closeQuietly(backend);
            return 1;
        }
        VirtioBlkDevice device;
        try {
            device = VirtioBlkDevice.start(options, backend, VduseKernel.linux());
        } catch (VduseException | RuntimeException e) {
            err.println("vduse-blk: " + e.getMessage());
            err.flush();
            closeQuietly(backend);
            return 1;
        }
        Thread hook = Thread.ofPlatform().name("vduse-blk-shutdown").unstarted(() -> shutDown(device, backend));
        Runtime.getRuntime().addShutdownHook(hook);
        boolean usr1 = Signals.on("USR1", () -> printStats(device));
        if (device.aioNote() != null && !(backend instanceof NbdBackend)) {
            out.println("vduse-blk: --aio " + options.aio().cliName() + ": " + device.aioNote());
        }
        out.printf("vduse-blk: device %s serves %s: %d bytes, %d queue(s) of %d, %d-byte blocks, aio %s%s%s%s%n",
                options.name(), backend.describe(), device.capacityBytes(), options.numQueues(), options.queueSize(),
                options.logicalBlockSize(), aioText(device), options.readOnly() ? ", read-only" : "",
                options.reconnect() ? ", reconnected" : "",
                options.userBounceMemory() ? ", user bounce memory" : "");
        out.printf("Attach it:   vdpa dev add name %s mgmtdev vduse%n", options.name());
        out.printf("Detach it:   vdpa dev del %s   (before stopping this process, or the device stays in the kernel)%n",
                options.name());
        out.printf("Stop:        Ctrl-C or kill -TERM %d%s%n", ProcessHandle.current().pid(),
                usr1 ? "; counters: kill -USR1 " + ProcessHandle.current().pid() : "");
        out.flush();
        serve(device);
        // Signals end the loop through the hook; wait for it to finish destroying the device.
        stopped.await();
        return 0;
    }

    /** Whether the vduse module is loaded; says how to load it when not. */
    private boolean vduseLoaded() {
        if (!Files.exists(CONTROL)) {
            err.println("vduse-blk: " + CONTROL + " does not exist: the vduse kernel module is not loaded.");
            err.println("Load it (as root) with:  modprobe vduse && modprobe virtio_vdpa");
            err.println("(virtio_vdpa attaches the device to the host's own virtio_blk; or try the device without "
                    + "a kernel: vduse-blk --simulate --size 64M)");
            err.flush();
            return false;
        }
        return true;
    }

    /** The engine serving the queues, as {@code --aio} names it, with the thread count for threads. */
    static String aioText(VirtioBlkDevice device) {
        if (device.backend() instanceof NbdBackend) {
            return "nbd (asynchronous, timeout " + ((NbdBackend) device.backend()).timeout().toSeconds() + " s)";
        }
        return switch (device.aio()) {
            case THREADS -> "threads (" + device.ioThreads() + " per queue)";
            default -> device.aio().cliName();
        };
    }

    private void serve(VirtioBlkDevice device) throws InterruptedException {
        long lastStats = System.nanoTime();
        while (!stopRequested.await(1, TimeUnit.SECONDS)) {
            try {
                if (device.refreshCapacity()) {
                    out.printf("vduse-blk: capacity now %d bytes; the driver was told%n", device.capacityBytes());
                    out.flush();
                }
            } catch (IOException e) {
                err.println("vduse-blk: cannot announce the new size: " + e.getMessage());
                err.flush();
            }
            if (statsInterval > 0 && System.nanoTime() - lastStats >= TimeUnit.SECONDS.toNanos(statsInterval)) {
                lastStats = System.nanoTime();
                printStats(device);
            }
        }
    }

    private synchronized void printStats(VirtioBlkDevice device) {
        for (String line : StatsFormatter.lines(device)) {
            out.println(line);
        }
        out.flush();
    }

    /** The shutdown hook: flush, print the counters, destroy the device, close the backend. */
    private void shutDown(VirtioBlkDevice device, BlockBackend backend) {
        stopRequested.countDown();
        try {
            out.println("vduse-blk: stopping " + options.name());
            try {
                backend.flush();
            } catch (IOException e) {
                err.println("vduse-blk: flush failed: " + e.getMessage());
            }
            printStats(device);
            try {
                device.close();
                out.println("vduse-blk: device " + options.name() + " destroyed");
            } catch (VduseException e) {
                // Typically still attached: the kernel keeps it, and a restart can take it over.
                err.println("vduse-blk: " + e.getMessage());
                err.println("The device stays in the kernel: serve it again with --reconnect --name "
                        + options.name() + ", or remove it: vdpa dev del " + options.name()
                        + ", then start and stop vduse-blk --reconnect --name " + options.name() + " once.");
            }
            closeQuietly(backend);
        } finally {
            out.flush();
            err.flush();
            stopped.countDown();
        }
    }

    private void closeQuietly(BlockBackend backend) {
        try {
            backend.close();
        } catch (IOException e) {
            err.println("vduse-blk: closing the backend: " + e.getMessage());
        }
    }
}
