package io.vduse.blk;

import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.iova.AddressSpace;
import io.vduse.iova.CoherentBuffer;
import io.vduse.iova.IovaDomain;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.DriverQueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * A process of its own that serves virtio-blk requests the way a device on the real kernel does,
 * with no simulated kernel or driver: rings and buffers in native memory, the device's config
 * space built, a file backend, split and packed rings, direct and indirect chains, a header
 * split across two buffers. {@link NativeSegmentsTest} runs it to see which memory-segment
 * classes that path loads.
 *
 * <p>Arguments: the backing file, an existing file of at least 1 MiB. Prints "served N requests".
 */
final class NativeSegmentsProbe {

    private static final int QUEUE_SIZE = 64;
    private static final int DATA = 4096;

    private NativeSegmentsProbe() {}

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        BlkOptions options = BlkOptions.defaults("probe");
        int served = 0;
        try (FileBackend backend = FileBackend.open(file, false, false, 0); Arena arena = Arena.ofConfined()) {
            DiskState disk = new DiskState(options, backend.size());
            byte[] config = BlkConfigSpace.config(options, disk.capacityBytes()).toBytes();
            if (config.length == 0) {
                throw new AssertionError("an empty config space");
            }
            BlkQueueHandler handler = new BlkQueueHandler(disk, backend,
                    arena.allocate(BlkQueueHandler.SCRATCH_SIZE, BlockBackend.BUFFER_ALIGNMENT), new QueueCounters());
            for (boolean packed : new boolean[] {false, true}) {
                served += serve(handler, packed);
            }
        }
        System.out.println("served " + served + " requests");
    }

    /** Writes, reads back, asks the id and flushes, directly and through an indirect table. */
    private static int serve(BlkQueueHandler handler, boolean packed) throws Exception {
        long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        try (IovaDomain domain = new IovaDomain(1L << 20, 16L << 20);
                AddressSpace space = new AddressSpace(domain.mappingSource())) {
            CoherentBuffer desc = domain.allocCoherent(16L * QUEUE_SIZE);
            CoherentBuffer driverArea = domain.allocCoherent(packed ? PackedRing.EVENT_SUPPRESS_SIZE
                    : SplitRing.availRingSize(QUEUE_SIZE));
            CoherentBuffer deviceArea = domain.allocCoherent(packed ? PackedRing.EVENT_SUPPRESS_SIZE
                    : SplitRing.usedRingSize(QUEUE_SIZE));
            DriverQueue driver = DriverQueue.create(QUEUE_SIZE, desc.memory(), driverArea.memory(),
                    deviceArea.memory(), features);
            DeviceQueue device = DeviceQueue.create(space, QUEUE_SIZE, desc.iova(), driverArea.iova(),
                    deviceArea.iova(), features, null);
            DescriptorChain chain = device.newChain();
            CoherentBuffer header = domain.allocCoherent(4096);
            CoherentBuffer data = domain.allocCoherent(DATA);
            CoherentBuffer status = domain.allocCoherent(4096);
            CoherentBuffer table = domain.allocCoherent(16 * 4);
            int served = 0;
            int[] types = {VirtioBlk.T_OUT, VirtioBlk.T_IN, VirtioBlk.T_GET_ID, VirtioBlk.T_FLUSH};
            for (boolean indirect : new boolean[] {false, true}) {
                for (int type : types) {
                    header.memory().set(ValueLayout.JAVA_INT_UNALIGNED, 0, type);
                    header.memory().set(ValueLayout.JAVA_INT_UNALIGNED, 4, 0);
                    header.memory().set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 8);
                    // The 16-byte header in two buffers of 6 and 10 bytes: its values straddle them.
                    long[] iovas = {header.iova(), header.iova() + 6, data.iova(), status.iova()};
                    int[] lengths = {6, 10, type == VirtioBlk.T_GET_ID ? VirtioBlk.ID_BYTES : DATA, 1};
                    int readable = type == VirtioBlk.T_OUT ? 3 : 2;
                    int count = type == VirtioBlk.T_FLUSH ? 3 : 4;
                    if (type == VirtioBlk.T_FLUSH) {
                        iovas[2] = status.iova();
                        lengths[2] = 1;
                    }
                    int id = indirect
                            ? driver.addIndirect(iovas, lengths, readable, count - readable, table.iova(),
                                    table.memory())
                            : driver.add(iovas, lengths, readable, count - readable);
                    if (id < 0) {
                        throw new AssertionError("the ring is full");
                    }
                    driver.kickPrepare();
                    if (!device.pop(chain)) {
                        throw new AssertionError("nothing to pop");
                    }
                    handler.handle(chain);
                    device.push(chain, (int) chain.writer().bytesWritten());
                    device.publish();
                    if (driver.pollUsed() < 0) {
                        throw new AssertionError("nothing used");
                    }
                    byte result = status.memory().get(ValueLayout.JAVA_BYTE, 0);
                    if (result != VirtioBlk.S_OK) {
                        throw new AssertionError("type " + type + " answered status " + result);
                    }
                    served++;
                }
            }
            return served;
        }
    }
}
