package io.vduse.bench;

import io.vduse.iova.AddressSpace;
import io.vduse.iova.CoherentBuffer;
import io.vduse.iova.IovaDomain;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.DriverQueue;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;

/**
 * A driver end and a device end of one queue over the same rings, in coherent memory of an
 * {@link IovaDomain}, the device translating through an {@link AddressSpace} as a real device
 * does (here over the domain's in-process mapping source: no memfd, no mmap).
 */
final class RingMemory implements AutoCloseable {

    final IovaDomain domain;
    final AddressSpace addressSpace;
    final DriverQueue driver;
    final DeviceQueue device;
    final long features;

    RingMemory(int size, boolean packed) {
        this.features = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        this.domain = new IovaDomain(1L << 20, 64L << 20);
        this.addressSpace = new AddressSpace(domain.mappingSource());
        CoherentBuffer desc = domain.allocCoherent(16L * size);
        CoherentBuffer driverArea = domain.allocCoherent(packed ? PackedRing.EVENT_SUPPRESS_SIZE
                : SplitRing.availRingSize(size));
        CoherentBuffer deviceArea = domain.allocCoherent(packed ? PackedRing.EVENT_SUPPRESS_SIZE
                : SplitRing.usedRingSize(size));
        this.driver = DriverQueue.create(size, desc.memory(), driverArea.memory(), deviceArea.memory(), features);
        this.device = DeviceQueue.create(addressSpace, size, desc.iova(), driverArea.iova(), deviceArea.iova(),
                features, null);
    }

    /** Coherent memory for buffers and indirect tables, mapped read-write. */
    CoherentBuffer alloc(long bytes) {
        return domain.allocCoherent(bytes);
    }

    @Override
    public void close() {
        addressSpace.close();
        domain.close();
    }
}
