package io.vduse.virtqueue;

import io.vduse.api.VqState;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.iova.Access;
import java.lang.foreign.MemorySegment;

/**
 * A driver end and a device end over the same rings in a {@link TestMemory}: rings in one
 * mapping, buffers in two adjacent mappings (so some buffers span both), indirect tables in a
 * fourth.
 */
final class Rig implements AutoCloseable {

    static final long RINGS = 0x10000;
    static final long RING_BYTES = 0x10000;
    static final long DATA = 0x100000;
    static final long DATA_HALF = 0x80000;
    static final long TABLES = 0x300000;
    static final long TABLE_BYTES = 0x100000;

    final TestMemory memory = new TestMemory();
    final int size;
    final long features;
    final boolean packed;
    final long descIova;
    final long driverIova;
    final long deviceIova;
    final long deviceAreaBytes;
    final DriverQueue driver;
    DeviceQueue device;

    Rig(int size, long features) {
        this.size = size;
        this.features = features;
        this.packed = (features & (1L << VirtioFeatures.RING_PACKED)) != 0;
        memory.map(RINGS, RING_BYTES, Access.READ_WRITE)
                .map(DATA, DATA_HALF, Access.READ_WRITE)
                .map(DATA + DATA_HALF, DATA_HALF, Access.READ_WRITE)
                .map(TABLES, TABLE_BYTES, Access.READ_WRITE);
        descIova = RINGS;
        long descBytes = 16L * size;
        long driverBytes;
        if (packed) {
            driverIova = RINGS + descBytes;
            driverBytes = PackedRing.EVENT_SUPPRESS_SIZE;
            deviceIova = driverIova + driverBytes;
            deviceAreaBytes = PackedRing.EVENT_SUPPRESS_SIZE;
        } else {
            driverIova = RINGS + descBytes;
            driverBytes = SplitRing.availRingSize(size);
            deviceIova = (driverIova + driverBytes + 3) & ~3L;
            deviceAreaBytes = SplitRing.usedRingSize(size);
        }
        driver = DriverQueue.create(size, memory.raw(descIova, descBytes), memory.raw(driverIova, driverBytes),
                memory.raw(deviceIova, deviceAreaBytes), features);
        device = DeviceQueue.create(memory, size, descIova, driverIova, deviceIova, features, null);
    }

    static long features(boolean packed, boolean eventIdx, boolean indirect) {
        long f = 1L << VirtioFeatures.VERSION_1;
        if (packed) {
            f |= 1L << VirtioFeatures.RING_PACKED;
        }
        if (eventIdx) {
            f |= 1L << VirtioFeatures.EVENT_IDX;
        }
        if (indirect) {
            f |= 1L << VirtioFeatures.INDIRECT_DESC;
        }
        return f;
    }

    /** Replaces the device end by one started from {@code state}, as a reconnecting device does. */
    void reconnect(VqState state) {
        device = DeviceQueue.create(memory, size, descIova, driverIova, deviceIova, features, state);
    }

    /** Adds one chain of {@code iovas}/{@code lengths} on the driver side and pops it on the device side. */
    DescriptorChain popOne(long[] iovas, int[] lengths, int readable, int writable) {
        if (driver.add(iovas, lengths, readable, writable) < 0) {
            throw new AssertionError("the driver ring is full");
        }
        DescriptorChain chain = device.newChain();
        if (!device.pop(chain)) {
            throw new AssertionError("the device found no chain");
        }
        return chain;
    }

    MemorySegment raw(long iova, long length) {
        return memory.raw(iova, length);
    }

    @Override
    public void close() {
        memory.close();
    }
}
