package io.vduse.blk.cli;

import io.vduse.blk.BlkOptions;
import io.vduse.blk.BlockBackend;
import io.vduse.blk.VirtioBlkDevice;
import io.vduse.core.Errno;
import io.vduse.core.Signals;
import io.vduse.core.VduseException;
import io.vduse.core.VduseKernel;
import io.vduse.core.vdpa.VdpaAttachment;
import io.vduse.core.vdpa.VdpaBus;
import io.vduse.core.vdpa.VdpaException;
import io.vduse.blk.nbd.NbdBackend;
import io.vduse.blk.nbd.NbdUri;
import java.io.IOException;
import java.time.Duration;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Serves the device on the real kernel until SIGINT or SIGTERM: once the device is ready
 * (attached, with {@code --attach}) writes {@code --pidfile}, prints the readiness line
 * ({@value #READY_PREFIX}...) and sends {@code READY=1} to {@code NOTIFY_SOCKET}; checks
 * once a second whether the backing file changed size (and tells the driver), prints the
 * counters every {@code --stats-interval} and on SIGUSR1, and on the way out flushes the backend
 * and destroys the device.
 */
final class DeviceService {

    private static final Path CONTROL = Path.of("/dev/vduse/control");
    /** How the readiness line starts: scripts and tests wait for it. */
    static final String READY_PREFIX = "vduse-blk: ready: ";

    /** The options; the logical block size is settled once the backend is open. */
    private BlkOptions options;
    private final Integer askedBlockSize;
    private final Path file;
    private final long size;
    private final boolean direct;
    private final int statsInterval;
    private final ServiceOptions service;
    private final PrintWriter out;
    private final PrintWriter err;
    private NbdUri nbd;
    private Duration nbdTimeout;
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);

    /**
     * @param askedBlockSize {@code --logical-block-size}, or null when not given: with
     *     {@code --direct} the disk's own then decides ({@link Backends#logicalBlockSize})
     */
    DeviceService(BlkOptions options, Integer askedBlockSize, Path file, long size, boolean direct,
            int statsInterval, ServiceOptions service, PrintWriter out, PrintWriter err) {
        this.options = options;
        this.askedBlockSize = askedBlockSize;
        this.file = file;
        this.size = size;
        this.direct = direct;
        this.statsInterval = statsInterval;
        this.service = service;
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
        long pid = ProcessHandle.current().pid();
        PidFile pidFile = null;
        if (service.pidFile() != null) {
            try {
                pidFile = PidFile.claim(service.pidFile(), pid);
            } catch (IOException e) {
                err.println("vduse-blk: " + e.getMessage());
                err.flush();
                if (opened != null) {
                    closeQuietly(opened);
                }
                return 1;
            }
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
        // Ready: start() returned after VDUSE_VQ_SETUP, so the kernel takes a vdpa dev add now.
        VdpaAttachment attachment;
        try {
            attachment = attach();
        } catch (VdpaException e) {
            err.println("vduse-blk: cannot attach " + options.name() + ": " + e.getMessage());
            destroyAfterFailure(device, backend);
            return 1;
        }
        SystemdNotifier notifier = SystemdNotifier.to(System.getenv("NOTIFY_SOCKET"), err);
        PidFile writtenPidFile = pidFile;
        Thread hook = Thread.ofPlatform().name("vduse-blk-shutdown")
                .unstarted(() -> shutDown(device, backend, attachment, writtenPidFile, notifier));
        // The hook is for an exit the tool does not see coming (SIGHUP, say); SIGTERM and SIGINT
        // wake this thread instead, which stops the device before the JVM's exit begins.
        Runtime.getRuntime().addShutdownHook(hook);
        StopSignals signals = StopSignals.install(stopRequested::countDown);
        boolean usr1 = Signals.on("USR1", () -> printStats(device));
        if (device.aioNote() != null && !(backend instanceof NbdBackend)) {
            out.println("vduse-blk: --aio " + options.aio().cliName() + ": " + device.aioNote());
        }
        out.printf("vduse-blk: device %s serves %s: %d bytes, %d queue(s) of %d, %d-byte blocks, aio %s%s%s%s%n",
                options.name(), backend.describe(), device.capacityBytes(), options.numQueues(), options.queueSize(),
                options.logicalBlockSize(), aioText(device), options.readOnly() ? ", read-only" : "",
                options.reconnect() ? ", reconnected" : "",
                options.userBounceMemory() ? ", user bounce memory" : "");
        if (attachment == null) {
            out.printf("Attach it:   vdpa dev add name %s mgmtdev vduse%n", options.name());
            out.printf("Detach it:   vdpa dev del %s   (before stopping this process, or the device stays in the "
                    + "kernel)%n", options.name());
        }
        out.printf("Stop:        Ctrl-C or kill -TERM %d%s%n", pid, usr1 ? "; counters: kill -USR1 " + pid : "");
        if (pidFile != null) {
            try {
                pidFile.write();
            } catch (IOException e) {
                err.println("vduse-blk: cannot write --pidfile " + pidFile.path() + ": " + e);
                err.flush();
            }
        }
        String status = attachment == null
                ? options.name() + " can be attached (vdpa dev add name " + options.name() + " mgmtdev vduse)"
                : options.name() + " attached to " + attachment.driver().moduleName() + " as " + attachment.describe();
        out.println(READY_PREFIX + status);
        out.flush();
        notifier.notify("READY=1", "STATUS=Serving " + status, "MAINPID=" + pid);
        serve(device);
        shutDown(device, backend, attachment, writtenPidFile, notifier);
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException exiting) {
            // The stop came through the hook: the JVM is on its way out already.
            return 0;
        }
        return signals.exitStatus();
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
            case THREADS -> device.inlineLimit() > 0
                    ? "threads (" + device.ioThreads() + " per queue, for requests above "
                            + (device.inlineLimit() >> 10) + " KiB; smaller ones on the queue's thread)"
                    : "threads (" + device.ioThreads() + " per queue)";
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

    /**
     * {@code --attach}: adds the device to the vDPA bus. A device taken over with
     * {@code --reconnect} may be on the bus still, bound where the last process left it: then it
     * stays as it is. Null without {@code --attach}.
     */
    private VdpaAttachment attach() throws VdpaException {
        if (service.attach() == null) {
            return null;
        }
        VdpaBus bus = VdpaBus.linux();
        if (options.reconnect()) {
            Optional<VdpaAttachment> existing = bus.find(options.name());
            if (existing.isPresent()) {
                out.printf("vduse-blk: %s is on the vDPA bus already, bound to %s; keeping it%n", options.name(),
                        existing.get().driver().moduleName());
                return existing.get();
            }
        }
        return bus.add(options.name(), service.attach());
    }

    /** After a refused attach: destroy the device this process made, close the backend. */
    private void destroyAfterFailure(VirtioBlkDevice device, BlockBackend backend) {
        try {
            device.close();
            err.println("vduse-blk: device " + options.name() + " destroyed");
        } catch (VduseException e) {
            err.println("vduse-blk: " + e.getMessage());
        }
        closeQuietly(backend);
        err.flush();
    }

    /**
     * The stop, on the serving thread after a signal or in the shutdown hook, whichever comes
     * first (the other waits for it): tell the service manager, flush, print the counters, take the
     * device off the vDPA bus if this process put it there, destroy it, close the backend, remove
     * the pidfile.
     */
    private void shutDown(VirtioBlkDevice device, BlockBackend backend, VdpaAttachment attachment, PidFile pidFile,
            SystemdNotifier notifier) {
        stopRequested.countDown();
        if (!stopping.compareAndSet(false, true)) {
            awaitStopped();
            return;
        }
        try {
            notifier.notify("STOPPING=1", "STATUS=Stopping " + options.name());
            out.println("vduse-blk: stopping " + options.name());
            try {
                backend.flush();
            } catch (IOException e) {
                err.println("vduse-blk: flush failed: " + e.getMessage());
            }
            printStats(device);
            if (attachment != null) {
                detach(attachment);
            }
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
            if (pidFile != null) {
                try {
                    pidFile.remove();
                } catch (IOException e) {
                    err.println("vduse-blk: cannot remove --pidfile " + pidFile.path() + ": " + e);
                }
            }
        } finally {
            notifier.close();
            out.flush();
            err.flush();
            stopped.countDown();
        }
    }

    /** Waits for the stop the other thread is doing (the hook must not return before it ends). */
    private void awaitStopped() {
        boolean interrupted = false;
        while (true) {
            try {
                stopped.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Removes the device from the vDPA bus; one already gone (a vdpa dev del by hand) is fine. */
    private void detach(VdpaAttachment attachment) {
        try {
            VdpaBus.linux().remove(attachment.name());
            out.println("vduse-blk: " + attachment.name() + " removed from the vDPA bus (was " + attachment.describe()
                    + ")");
        } catch (VdpaException e) {
            if (e.errno() == Errno.ENODEV) {
                out.println("vduse-blk: " + attachment.name() + " was no longer on the vDPA bus");
            } else {
                err.println("vduse-blk: cannot remove " + attachment.name() + " from the vDPA bus: " + e.getMessage());
            }
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
