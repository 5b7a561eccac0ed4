package io.vduse.core.sim;

import io.vduse.api.Vduse;
import io.vduse.api.VduseDevConfig;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.VduseKernel;
import io.vduse.core.internal.CreateDevRules;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An in-process model of the kernel's VDUSE module ({@code drivers/vdpa/vdpa_user/vduse_dev.c}),
 * behind the same {@link VduseKernel} seam as the real one: the same ioctls with the same checks
 * and errnos, the same message bytes, real eventfds for kicks and real memfd descriptors from
 * {@code IOTLB_GET_FD}. A device runs against it without root or a kernel module.
 */
public final class SimulatedKernel implements VduseKernel {

    /**
     * The Linux release whose VDUSE a simulated kernel answers as; each difference is one
     * {@code KernelFactsTest} pins on the real kernel.
     */
    public enum Release {
        /**
         * Linux 6.12: {@code VDUSE_GET_API_VERSION} answers 0, the control device knows no VDUSE
         * features ({@code VDUSE_GET_FEATURES} is {@code EINVAL}), {@code vq_align} up to
         * PAGE_SIZE is taken as it is.
         */
        LINUX_6_12(Vduse.API_VERSION_0, 0),
        /**
         * Linux 7.3: API version 1 (what {@code VDUSE_GET_API_VERSION} answers and then holds to
         * on a control file that set none; one that creates a device without asking gets 0),
         * VDUSE features {@code QUEUE_READY} and {@code SUSPEND}, {@code vq_align} must be a
         * power of two of at least 4, and virtio-fs devices are allowed.
         */
        LINUX_7_3(Vduse.API_VERSION_1, (1L << Vduse.F_QUEUE_READY) | (1L << Vduse.F_SUSPEND));

        final long apiVersion;
        final long vduseFeatures;

        Release(long apiVersion, long vduseFeatures) {
            this.apiVersion = apiVersion;
            this.vduseFeatures = vduseFeatures;
        }

        /** The highest API version this release offers. */
        public long apiVersion() {
            return apiVersion;
        }

        /** What {@code VDUSE_GET_FEATURES} answers; 0 where the ioctl does not exist. */
        public long vduseFeatures() {
            return vduseFeatures;
        }
    }

    private final Release release;
    private final Duration messageTimeout;
    private final Map<String, SimulatedDevice> devices = new ConcurrentHashMap<>();
    private final PinnedMemory pins = new PinnedMemory();
    private Path runtimeDirectory;

    /** A kernel answering as Linux 6.12 does, with a 30 s message time-out. */
    public SimulatedKernel() {
        this(Release.LINUX_6_12, Duration.ofSeconds(Vduse.DEFAULT_MSG_TIMEOUT_SECONDS));
    }

    /** A kernel answering as {@code release} does, with a 30 s message time-out. */
    public SimulatedKernel(Release release) {
        this(release, Duration.ofSeconds(Vduse.DEFAULT_MSG_TIMEOUT_SECONDS));
    }

    /**
     * A kernel answering as {@code release} does, with the given message time-out.
     *
     * @param messageTimeout how long a control message waits for the device before the device
     *     is marked broken ({@code msg_timeout} in sysfs)
     */
    public SimulatedKernel(Release release, Duration messageTimeout) {
        this.release = java.util.Objects.requireNonNull(release, "release");
        this.messageTimeout = messageTimeout;
    }

    /** The release this kernel answers as. */
    public Release release() {
        return release;
    }

    /**
     * Holds {@code VDUSE_IOTLB_REG_UMEM} to {@code bytes} of pinned memory in all, as if that were
     * the process's {@code RLIMIT_MEMLOCK}; by default the limit is the process's own soft limit,
     * read at each registration, as the kernel reads it.
     */
    public SimulatedKernel memlockLimit(long bytes) {
        pins.limit(java.util.OptionalLong.of(bytes));
        return this;
    }

    /** Bytes of device memory the simulated kernel holds pinned for {@code VDUSE_IOTLB_REG_UMEM} now. */
    public long pinnedBytes() {
        return pins.pinned();
    }

    /**
     * Whether device {@code name} has user bounce memory registered for address space
     * {@code asid} ({@code VDUSE_IOTLB_REG_UMEM}), for tests.
     */
    public boolean userBounceMemoryRegistered(String name, int asid) {
        SimulatedDevice device = devices.get(name);
        return device != null && device.umemRegistered(asid);
    }

    @Override
    public VduseFile openControl() {
        return new SimulatedControlFile(this);
    }

    @Override
    public VduseFile openDevice(String name) throws ErrnoException {
        SimulatedDevice device = devices.get(name);
        if (device == null) {
            throw new ErrnoException("open /dev/vduse/" + name, Errno.ENOENT);
        }
        device.open();
        return new SimulatedDeviceFile(device);
    }

    @Override
    public boolean deviceExists(String name) {
        return devices.containsKey(name);
    }

    @Override
    public String description() {
        return "simulated " + release;
    }

    /**
     * A directory of this kernel's own, made on first use under one temporary directory of the
     * JVM's that is deleted when the JVM exits: devices of different simulated kernels never see
     * each other's in-flight logs, and a process taking a device over (a new {@code VduseDevice}
     * on the same kernel) finds those of the one before.
     */
    @Override
    public synchronized Path runtimeDirectory() {
        if (runtimeDirectory == null) {
            try {
                runtimeDirectory = Files.createTempDirectory(Scratch.ROOT, "kernel-");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot make a runtime directory for a simulated kernel", e);
            }
        }
        return runtimeDirectory;
    }

    /** The JVM's temporary directory for simulated kernels, removed at exit. */
    private static final class Scratch {
        static final Path ROOT = create();

        private static Path create() {
            try {
                Path root = Files.createTempDirectory("vduse-sim-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(root), "vduse-sim-cleanup"));
                return root;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot make a temporary directory for simulated kernels", e);
            }
        }

        private static void deleteTree(Path root) {
            try (var paths = Files.walk(root)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException | UncheckedIOException e) {
                // Best effort at exit: what is left is in the temporary directory.
            }
        }
    }

    void create(VduseDevConfig config, boolean reservedBitsSet, long fileApiVersion, long vduseFeatures)
            throws ErrnoException {
        var violation = CreateDevRules.violation(config, reservedBitsSet, fileApiVersion, release == Release.LINUX_7_3);
        if (violation.isPresent()) {
            throw new ErrnoException("VDUSE_CREATE_DEV " + config.name() + ": " + violation.get(), Errno.EINVAL);
        }
        SimulatedDevice device = new SimulatedDevice(config, fileApiVersion, vduseFeatures, messageTimeout, pins,
                release == Release.LINUX_6_12);
        if (devices.putIfAbsent(config.name(), device) != null) {
            throw new ErrnoException("VDUSE_CREATE_DEV " + config.name(), Errno.EEXIST);
        }
    }

    void destroy(String name) throws ErrnoException {
        SimulatedDevice device = devices.get(name);
        if (device == null) {
            throw new ErrnoException("VDUSE_DESTROY_DEV " + name, Errno.EINVAL);
        }
        synchronized (device) {
            if (device.isAttached() || device.isOpen()) {
                throw new ErrnoException("VDUSE_DESTROY_DEV " + name, Errno.EBUSY);
            }
            devices.remove(name);
        }
        device.destroy();
    }

    /** The kernel's model of a device, for the simulated driver; null if there is none. */
    SimulatedDevice device(String name) {
        return devices.get(name);
    }
}
