package io.vduse.bench;

import io.vduse.api.Vduse;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.ErrnoException;
import io.vduse.core.RamBlockHandler;
import io.vduse.core.VduseDevice;
import io.vduse.core.VduseException;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

/**
 * A RAM virtio-blk device built with the SDK ({@link VduseDevice}: message loop, queue worker,
 * IOTLB over memfd mappings) on the {@link SimulatedKernel}, with a {@link SimulatedDriver}
 * attached: the whole stack short of a real kernel.
 */
final class SimulatedBlockDevice implements AutoCloseable {

    static final long DISK_BYTES = 16L << 20;

    final Arena arena = Arena.ofShared();
    final SimulatedKernel kernel = new SimulatedKernel(Vduse.API_VERSION_0, Duration.ofSeconds(30));
    final VduseDevice device;
    final SimulatedDriver driver;

    SimulatedBlockDevice(String name, boolean packed) throws Exception {
        MemorySegment disk = arena.allocate(DISK_BYTES, 4096);
        long features = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        device = VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(features)
                .config(VirtioBlkConfig.ofCapacity(DISK_BYTES / VirtioBlk.SECTOR_SIZE).toBytes())
                .queues(1, 256)
                .handler(new RamBlockHandler(disk, "bench"))
                .start();
        driver = SimulatedDriver.attach(kernel, name, SimulatedDriver.Options.defaults().withQueueSize(256));
    }

    @Override
    public void close() throws ErrnoException, VduseException {
        try {
            driver.close();
        } finally {
            try {
                device.close();
            } finally {
                arena.close();
            }
        }
    }
}
