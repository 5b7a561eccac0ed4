package io.vduse.blk.cli;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.blk.BlkAio;
import io.vduse.blk.BlkOptions;
import io.vduse.blk.VirtioBlkDevice;
import io.vduse.blk.nbd.NbdBackend;
import io.vduse.blk.nbd.NbdUri;
import io.vduse.core.vdpa.VdpaDriver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code vduse-blk} command line: its options, their checks, and the choice between serving
 * a device ({@link DeviceService}) and the simulated run ({@link SimulationService}).
 */
@Command(name = "vduse-blk", mixinStandardHelpOptions = true, version = "vduse-blk 0.1.0",
        sortOptions = false, usageHelpWidth = 100,
        description = {
            "Serves a virtio-blk device from userspace through Linux's VDUSE. Once it is ready (it prints",
            "'vduse-blk: ready: ...', writes --pidfile, and tells NOTIFY_SOCKET READY=1), attach it with",
            "  vdpa dev add name NAME mgmtdev vduse          (or start it with --attach)",
            "and the kernel's virtio_blk driver shows it as /dev/vdX (with virtio_vdpa loaded), or give it",
            "to a VM through vhost_vdpa. Ctrl-C (SIGINT) or SIGTERM flushes and destroys the device;",
            "SIGUSR1 prints the per-queue counters.",
            "",
            "Without VDUSE (no /dev/vduse/control), --simulate runs the same device against an in-process",
            "simulated kernel and driver with a verifying workload.",
            ""},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:served until stopped, or --simulate verified every byte",
            "1:the device could not start or stopped on an error, or --simulate found a wrong byte",
            "2:a bad option or value"})
final class VduseBlkCommand implements Callable<Integer> {


    @Spec
    CommandSpec spec;

    @Option(names = "--name", paramLabel = "NAME",
            description = "VDUSE device name: /dev/vduse/NAME, and the name for vdpa dev add. "
                    + "Required, except with --simulate (default sim0).")
    String name;

    @Option(names = "--file", paramLabel = "PATH",
            description = "Backing file or block device. Without it the device lives in memory (--size needed) "
                    + "and its content is lost at exit.")
    Path file;

    @Option(names = "--nbd", paramLabel = "URI",
            description = "Serve an NBD server's export instead of a file: nbd://HOST[:PORT]/EXPORT (port 10809 by "
                    + "default; nbd://HOST is the default export) or nbd+unix:///EXPORT?socket=PATH. Size, read-only "
                    + "and block sizes come from the server; one connection per queue where it allows several "
                    + "(multi-conn). A lost connection is made again and its requests sent again. Excludes --file "
                    + "and --size.")
    String nbd;

    @Option(names = "--nbd-timeout", paramLabel = "SECONDS",
            description = "With --nbd: how long a request may wait for the server, reconnects included, before it "
                    + "fails with an I/O error (default 30).")
    Integer nbdTimeout;

    @Option(names = "--size", paramLabel = "SIZE", converter = SizeConverter.class,
            description = "Size in bytes, with an optional K, M, G or T suffix (binary). Creates --file at this "
                    + "size if it does not exist, grows it if it is smaller; a multiple of --logical-block-size.")
    Long size;

    @Option(names = "--num-queues", paramLabel = "N", defaultValue = "1",
            description = "Request queues, 1 to " + BlkOptions.MAX_QUEUES + " (default ${DEFAULT-VALUE}); "
                    + "each is served by its own thread.")
    int numQueues;

    @Option(names = "--queue-size", paramLabel = "N", defaultValue = "256",
            description = "Largest ring per queue, a power of two from 4 to " + BlkOptions.MAX_QUEUE_SIZE
                    + " (default ${DEFAULT-VALUE}).")
    int queueSize;

    @Option(names = "--logical-block-size", paramLabel = "BYTES",
            description = "Block size the driver sees: 512, 1024, 2048 or 4096 (default 512; with --direct, the "
                    + "disk's logical block size when larger, and a smaller size is refused).")
    Integer logicalBlockSize;

    @Option(names = "--serial", paramLabel = "SERIAL",
            description = "What GET_ID answers (/sys/block/vdX/serial), at most 20 ASCII characters "
                    + "(default: the name, if it fits).")
    String serial;

    @ArgGroup(exclusive = true)
    Access access;

    /** {@code --writable} or {@code --read-only}, not both. */
    static final class Access {
        @Option(names = "--writable", description = "Allow writes (the default).")
        boolean writable;

        @Option(names = "--read-only", description = "Offer VIRTIO_BLK_F_RO; writes, discards and "
                + "write-zeroes fail with IOERR.")
        boolean readOnly;
    }

    @Option(names = "--direct",
            description = "Open --file with O_DIRECT (bypass the host's page cache); the file system must support it.")
    boolean direct;

    @Option(names = "--reconnect",
            description = "Take over an existing device of this name left by a process that stopped or was killed, "
                    + "instead of refusing the name.")
    boolean reconnect;

    @Option(names = "--packed-ring", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Offer packed virtqueues (VIRTIO_F_RING_PACKED) as well as split ones; the driver picks. "
                    + "On by default (--no-packed-ring: split only); --reconnect resumes either from the "
                    + "queues' in-flight logs.")
    boolean packedRing;

    @Option(names = "--inflight-log-dir", paramLabel = "DIR",
            description = "Where each queue keeps its in-flight log, DIR/NAME/queue-N.inflight: the requests in "
                    + "flight, so that --reconnect after a kill serves each of them again, none twice. Give a "
                    + "reconnecting process the same DIR. Default: $XDG_RUNTIME_DIR/vduse-java, or /run/vduse-java.")
    Path inflightLogDir;

    @Option(names = "--vduse-api", paramLabel = "N",
            description = "VDUSE API version to create the device with, 0 or 1 (default: the highest the kernel "
                    + "offers: 1 on Linux 7.3, 0 on 6.12).")
    Long vduseApi;

    @Option(names = "--busy-poll",
            description = "Spin on the rings instead of waiting for kicks: lower latency, one busy core per queue.")
    boolean busyPoll;

    @Option(names = "--user-bounce-memory",
            description = "Hand the kernel this process's own memory as the bounce buffer of the virtio_vdpa driver's "
                    + "buffers (VDUSE_IOTLB_REG_UMEM, 64 MiB by default, pinned: RLIMIT_MEMLOCK is raised when "
                    + "allowed), instead of mapping the kernel's bounce pages. Falls back to those, saying why, "
                    + "if the kernel refuses. No effect under vhost_vdpa.")
    boolean userBounceMemory;

    @Option(names = "--aio", paramLabel = "ENGINE", defaultValue = "io_uring",
            description = "How each queue's requests are served, with qemu-storage-daemon's names: io_uring (the "
                    + "default: an io_uring per queue keeps every request in flight at once, submitted and completed "
                    + "on the queue's thread; where the kernel refuses io_uring, threads instead, saying why), "
                    + "threads (--io-threads at once per queue, each on a thread of its own) or sync (one at a "
                    + "time on the queue's thread; fastest where the backend never waits). A device in memory "
                    + "(--size without --file) is served sync; a file on tmpfs or ramfs, where io_uring would hand "
                    + "every request to a kernel thread, is served on the queue's thread up to "
                    + (VirtioBlkDevice.IN_MEMORY_INLINE_LIMIT >> 10) + " KiB a request and on "
                    + BlkOptions.DEFAULT_IO_THREADS + " I/O threads above, saying so.")
    String aio;

    @Option(names = "--io-threads", paramLabel = "N",
            description = "With --aio threads: the requests each queue serves at once (default 8, at most 256).")
    Integer ioThreads;

    @Option(names = "--stats-interval", paramLabel = "SECONDS", defaultValue = "0",
            description = "Print the per-queue counters every SECONDS (0, the default: only on SIGUSR1 and at exit).")
    int statsInterval;

    // ---- Running as a service (issue #18): self-attach and the pidfile. Readiness: DeviceService. ----

    @Option(names = "--attach", paramLabel = "DRIVER", arity = "0..1", fallbackValue = "virtio",
            description = "Once the device is ready, add it to the vDPA bus (what vdpa dev add does, through the "
                    + "kernel's vdpa netlink family) and bind it to virtio_vdpa (--attach, or --attach virtio: the "
                    + "host's virtio_blk shows /dev/vdX) or vhost_vdpa (--attach vhost: /dev/vhost-vdpa-N, for a VM); "
                    + "print the node it got, and remove it from the bus before destroying the device at exit. "
                    + "A refused attach ends the tool with exit code 1. Needs root and the driver's module loaded.")
    String attach;

    @Option(names = "--pidfile", paramLabel = "PATH",
            description = "Write this process's pid to PATH once the device is ready (and attached, with --attach); "
                    + "remove it at a clean exit. A PATH naming another running process is refused.")
    Path pidFile;

    // ---- end of the service options ----

    @Option(names = "--simulate",
            description = "Run against the simulated kernel with a built-in workload (random writes then reads "
                    + "over all queues, every byte read back verified); report IOPS and bytes/s. Needs no root "
                    + "and no VDUSE. Exits 0 only if everything verified.")
    boolean simulate;

    @Option(names = "--simulate-requests", paramLabel = "N", defaultValue = "20000",
            description = "Requests the --simulate workload sends, half writes, half reads (default ${DEFAULT-VALUE}).")
    int simulateRequests;

    @Option(names = "--simulate-seed", paramLabel = "SEED",
            description = "Seed of the --simulate workload's randomness (default: random, printed).")
    Long simulateSeed;

    @Override
    public Integer call() throws Exception {
        BlkOptions options = options();
        long sizeBytes = size == null ? 0 : size;
        int blockSize = logicalBlockSize == null ? VirtioBlk.SECTOR_SIZE : logicalBlockSize;
        if (size != null && (size <= 0 || size % blockSize != 0)) {
            throw bad("--size", size + " bytes is not a positive multiple of the logical block size " + blockSize);
        }
        NbdUri nbdUri = nbdUri();
        if (file == null && size == null && nbdUri == null && !simulate) {
            throw new ParameterException(spec.commandLine(),
                    "Missing --file (a backing file or block device), --nbd (an NBD server) or --size (a device in memory)");
        }
        if (direct && file == null) {
            throw bad("--direct", "O_DIRECT needs a --file");
        }
        if (statsInterval < 0) {
            throw bad("--stats-interval", statsInterval + " is negative");
        }
        if (simulateRequests < 1) {
            throw bad("--simulate-requests", simulateRequests + " is not positive");
        }
        ServiceOptions service = serviceOptions();
        if (simulate) {
            long seed = simulateSeed != null ? simulateSeed : System.nanoTime();
            return new SimulationService(options, logicalBlockSize, file, sizeBytes, direct, simulateRequests, seed,
                    spec.commandLine().getOut(), spec.commandLine().getErr()).run();
        }
        return new DeviceService(options, logicalBlockSize, file, sizeBytes, direct, statsInterval, service,
                spec.commandLine().getOut(), spec.commandLine().getErr())
                .nbd(nbdUri, nbdTimeout == null ? NbdBackend.DEFAULT_TIMEOUT : Duration.ofSeconds(nbdTimeout))
                .run();
    }

    /** {@code --nbd} parsed, null when not given; {@code --nbd-timeout} checked. */
    private NbdUri nbdUri() {
        if (nbd == null) {
            if (nbdTimeout != null) {
                throw bad("--nbd-timeout", "only with --nbd");
            }
            return null;
        }
        if (file != null) {
            throw new ParameterException(spec.commandLine(), "--nbd and --file exclude each other: the disk is the "
                    + "NBD server's or a file's");
        }
        if (size != null) {
            throw new ParameterException(spec.commandLine(), "--nbd and --size exclude each other: the NBD server "
                    + "says the size");
        }
        if (simulate) {
            throw new ParameterException(spec.commandLine(), "--nbd and --simulate exclude each other: --simulate "
                    + "serves memory or a --file");
        }
        if (direct) {
            throw bad("--direct", "O_DIRECT needs a --file, not --nbd");
        }
        if (nbdTimeout != null && (nbdTimeout < 1 || nbdTimeout > 3600)) {
            throw bad("--nbd-timeout", "1 to 3600 seconds: " + nbdTimeout);
        }
        try {
            return NbdUri.parse(nbd);
        } catch (IllegalArgumentException e) {
            throw bad("--nbd", e.getMessage());
        }
    }

    /** {@code --attach} and {@code --pidfile}, checked; neither goes with {@code --simulate}. */
    private ServiceOptions serviceOptions() {
        VdpaDriver driver = null;
        if (attach != null) {
            driver = ServiceOptions.driverOf(attach);
            if (driver == null) {
                throw bad("--attach", "the drivers are virtio (virtio_vdpa, the default) and vhost (vhost_vdpa): "
                        + attach);
            }
            if (simulate) {
                throw bad("--attach", "the simulated kernel has no vDPA bus (--simulate attaches its own driver)");
            }
        }
        if (pidFile != null && simulate) {
            throw bad("--pidfile", "--simulate runs to its end; it has no service to name");
        }
        return new ServiceOptions(driver, pidFile);
    }

    /** The device options, each value checked and refused naming its option. */
    private BlkOptions options() {
        if (name == null) {
            if (!simulate) {
                throw new ParameterException(spec.commandLine(), "Missing required option: '--name=NAME'");
            }
            name = "sim0";
        }
        check("--name", () -> BlkOptions.defaults(name));
        check("--num-queues", () -> BlkOptions.defaults(name).withQueues(numQueues, 256));
        check("--queue-size", () -> BlkOptions.defaults(name).withQueues(1, queueSize));
        int blockSize = logicalBlockSize == null ? VirtioBlk.SECTOR_SIZE : logicalBlockSize;
        check("--logical-block-size", () -> BlkOptions.defaults(name).withLogicalBlockSize(blockSize));
        String chosenSerial = serial != null ? serial : BlkOptions.defaults(name).serial();
        check("--serial", () -> BlkOptions.defaults(name).withSerial(chosenSerial));
        long api = vduseApi == null ? BlkOptions.HIGHEST_API_VERSION : vduseApi;
        if (vduseApi != null && vduseApi != 0 && vduseApi != 1) {
            throw bad("--vduse-api", "the VDUSE API version is 0 or 1: " + vduseApi);
        }
        BlkAio engine = BlkAio.ofCliName(aio);
        if (engine == null) {
            throw bad("--aio", "the engines are io_uring, threads and sync: " + aio);
        }
        if (engine != BlkAio.THREADS && ioThreads != null) {
            throw bad("--io-threads", "only with --aio threads (--aio " + aio + " has no I/O threads)");
        }
        int threads = engine == BlkAio.THREADS ? (ioThreads == null ? BlkOptions.DEFAULT_IO_THREADS : ioThreads) : 0;
        if (engine == BlkAio.THREADS && threads < 1) {
            throw bad("--io-threads", "at least 1: " + threads);
        }
        check("--io-threads", () -> BlkOptions.defaults(name).withAio(engine, threads));
        boolean readOnly = access != null && access.readOnly;
        return new BlkOptions(name, numQueues, queueSize, blockSize, chosenSerial, readOnly, reconnect,
                busyPoll, packedRing, api, inflightLogDir, userBounceMemory, threads, engine);
    }

    private void check(String option, java.util.function.Supplier<BlkOptions> build) {
        try {
            build.get();
        } catch (IllegalArgumentException e) {
            throw bad(option, e.getMessage());
        }
    }

    private ParameterException bad(String option, String why) {
        return new ParameterException(spec.commandLine(), "Invalid value for option '" + option + "': " + why);
    }
}
