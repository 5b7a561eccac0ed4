package io.vduse.blk.cli;

import io.vduse.blk.BlkOptions;
import io.vduse.blk.BlockBackend;
import io.vduse.blk.VirtioBlkDevice;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code vduse-blk --simulate}: the same device, on the same backend, against the in-process
 * simulated kernel and driver, driven by {@link SimulatedWorkload}.
 */
final class SimulationService {

    /** The size of the in-memory device when neither --file nor --size says. */
    static final long DEFAULT_SIZE = 64L << 20;

    /** The options; the logical block size is settled once the backend is open. */
    private BlkOptions options;
    private final Integer askedBlockSize;
    private final Path file;
    private final long size;
    private final boolean direct;
    private final int requests;
    private final long seed;
    private final PrintWriter out;
    private final PrintWriter err;

    /** @param askedBlockSize {@code --logical-block-size}, or null when not given (see {@link DeviceService}) */
    SimulationService(BlkOptions options, Integer askedBlockSize, Path file, long size, boolean direct, int requests,
            long seed, PrintWriter out, PrintWriter err) {
        this.options = options;
        this.askedBlockSize = askedBlockSize;
        this.file = file;
        this.size = size;
        this.direct = direct;
        this.requests = requests;
        this.seed = seed;
        this.out = out;
        this.err = err;
    }

    /**
     * Runs the workload; 0 if every request succeeded and every byte verified, else 1; stopped
     * early by SIGTERM or SIGINT, the signal's status (143, 130) if all that ran verified.
     */
    int run() throws Exception {
        boolean fresh = file == null || !Files.exists(file);
        BlockBackend backend;
        try {
            backend = Backends.open(file, file == null && size == 0 ? DEFAULT_SIZE : size, options.readOnly(), direct);
        } catch (IOException e) {
            err.println("vduse-blk: cannot open the backend: " + e.getMessage());
            err.flush();
            return 1;
        }
        try {
            options = options.withLogicalBlockSize(Backends.logicalBlockSize(backend, askedBlockSize));
        } catch (IOException e) {
            err.println("vduse-blk: " + e.getMessage());
            err.flush();
            backend.close();
            return 1;
        }
        if (options.readOnly()) {
            err.println("vduse-blk: --simulate writes; it cannot run on a --read-only device");
            err.flush();
            backend.close();
            return 1;
        }
        // The newest kernel the simulation models (Linux 7.3: API v1, queue-ready messages), so
        // that every --vduse-api value runs.
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_7_3);
        // Ctrl-C or SIGTERM ends the workload early; the device is then closed here, before the
        // JVM's exit (a recording made with -XX:StartFlightRecording sees it destroyed), and the
        // signals go back to the JVM only after that.
        try (backend;
                StopSignals signals = StopSignals.install(() -> {});
                VirtioBlkDevice device = VirtioBlkDevice.start(options, backend, kernel);
                SimulatedDriver driver = SimulatedDriver.attach(kernel, options.name(),
                        SimulatedDriver.Options.defaults().withQueueSize(options.queueSize()))) {
            out.printf("simulate: device %s on %s, %d bytes, %d queue(s) of %d, %d-byte blocks, aio %s, VDUSE API %d, "
                    + "seed %d%n", options.name(), backend.describe(), device.capacityBytes(), options.numQueues(),
                    driver.queueSize(0), options.logicalBlockSize(), DeviceService.aioText(device), device.apiVersion(),
                    seed);
            if (device.aioNote() != null) {
                out.println("simulate: --aio " + options.aio().cliName() + ": " + device.aioNote());
            }
            out.flush();
            SimulatedWorkload workload = new SimulatedWorkload(driver, options.numQueues(),
                    options.logicalBlockSize(), device.capacityBytes(), fresh, seed, out)
                    .stopWhen(signals::requested);
            boolean ok = workload.run(requests);
            if (options.userBounceMemory()) {
                out.println(device.vduseDevice().userBounceMemoryInUse()
                        ? "simulate: the bounce buffer is the device's own memory (VDUSE_IOTLB_REG_UMEM)"
                        : "simulate: the bounce buffer stayed the kernel's: the registration was refused (see the log)");
            }
            for (String line : StatsFormatter.lines(device)) {
                out.println(line);
            }
            out.flush();
            return !ok ? 1 : signals.requested() ? signals.exitStatus() : 0;
        }
    }
}
