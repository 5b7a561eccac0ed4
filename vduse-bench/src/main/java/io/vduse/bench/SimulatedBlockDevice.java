package io.vduse.bench;

import io.vduse.api.Vduse;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.blk.BlkAio;
import io.vduse.blk.BlkOptions;
import io.vduse.blk.FileBackend;
import io.vduse.blk.VirtioBlkDevice;
import io.vduse.core.ErrnoException;
import io.vduse.core.RamBlockHandler;
import io.vduse.core.VduseDevice;
import io.vduse.core.VduseException;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A virtio-blk device on the {@link SimulatedKernel}, with a {@link SimulatedDriver} attached:
 * the whole stack short of a real kernel (message loop, queue worker, IOTLB over memfd mappings).
 * Three devices: {@link Kind#RAM}, the core tests' RAM handler built with the SDK, which copies
 * through the chain's reader and writer; {@link Kind#BLK_FILE}, vduse-blk's own device on its
 * default engine, io_uring, over a file in the temporary directory; and {@link Kind#BLK_FILE_SYNC},
 * the same on {@code --aio sync} over a file in {@code /dev/shm} (tmpfs, as the guest
 * comparison's image). Both move the data straight between the file and the driver's buffers
 * ({@code READV}/{@code WRITEV} through the ring, or {@code preadv}/{@code pwritev}).
 */
final class SimulatedBlockDevice implements AutoCloseable {

    /** Which device serves the requests. */
    enum Kind {
        RAM, BLK_FILE, BLK_FILE_SYNC;

        static Kind of(String name) {
            return switch (name) {
                case "ram" -> RAM;
                case "blk-file" -> BLK_FILE;
                case "blk-file-sync" -> BLK_FILE_SYNC;
                default -> throw new IllegalArgumentException("device must be ram, blk-file or blk-file-sync: " + name);
            };
        }
    }

    static final long DISK_BYTES = 16L << 20;
    private static final int QUEUE_SIZE = 256;

    final Arena arena = Arena.ofShared();
    final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(30));
    final SimulatedDriver driver;
    /** The device of {@link Kind#RAM}, else null. */
    private final VduseDevice ramDevice;
    /** The device, its backend (which it does not close) and file of {@link Kind#BLK_FILE}, else null. */
    private final VirtioBlkDevice blkDevice;
    private final FileBackend backend;
    private final Path file;

    SimulatedBlockDevice(String name, boolean packed) throws Exception {
        this(name, packed, Kind.RAM);
    }

    SimulatedBlockDevice(String name, boolean packed, Kind kind) throws Exception {
        if (kind == Kind.RAM) {
            ramDevice = ramDevice(name, packed);
            blkDevice = null;
            backend = null;
            file = null;
        } else {
            // io_uring on the temporary directory: vduse-blk serves a file on tmpfs (/dev/shm) sync
            // whatever it is asked, as io_uring would hand every request there to a worker thread.
            Path shm = Path.of("/dev/shm");
            Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
            Path dir = kind == Kind.BLK_FILE_SYNC && Files.isDirectory(shm) ? shm : tmp;
            file = Files.createTempFile(dir, name, ".img");
            Files.delete(file); // FileBackend creates it, at the size asked for
            backend = FileBackend.open(file, false, false, DISK_BYTES);
            ramDevice = null;
            try {
                BlkAio aio = kind == Kind.BLK_FILE_SYNC ? BlkAio.SYNC : BlkAio.IO_URING;
                blkDevice = VirtioBlkDevice.start(BlkOptions.defaults(name).withQueues(1, QUEUE_SIZE)
                        .withPackedRing(packed).withAio(aio, 0), backend, kernel);
            } catch (Exception e) {
                backend.close();
                deleteQuietly(file);
                throw e;
            }
        }
        try {
            driver = SimulatedDriver.attach(kernel, name, SimulatedDriver.Options.defaults().withQueueSize(QUEUE_SIZE));
        } catch (Exception e) {
            closeDevice();
            throw e;
        }
    }

    private VduseDevice ramDevice(String name, boolean packed) throws Exception {
        MemorySegment disk = arena.allocate(DISK_BYTES, 4096);
        long features = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        return VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(features)
                .config(VirtioBlkConfig.ofCapacity(DISK_BYTES / VirtioBlk.SECTOR_SIZE).toBytes())
                .queues(1, QUEUE_SIZE)
                .handler(new RamBlockHandler(disk, "bench"))
                .start();
    }

    @Override
    public void close() throws ErrnoException, VduseException, IOException {
        try {
            driver.close();
        } finally {
            closeDevice();
        }
    }

    private void closeDevice() throws VduseException, IOException {
        try {
            if (ramDevice != null) {
                ramDevice.close();
            } else {
                blkDevice.close();
            }
        } finally {
            arena.close();
            if (backend != null) {
                backend.close();
                deleteQuietly(file);
            }
        }
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            System.err.println("could not delete " + path + ": " + e.getMessage());
        }
    }
}
