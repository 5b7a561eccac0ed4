package io.vduse.virtqueue;

import io.vduse.api.virtio.VirtioFeatures;
import java.lang.foreign.MemorySegment;

/**
 * The driver's end of one virtqueue, split or packed: what a virtio driver does with the rings,
 * for the simulated kernel, tests and benchmarks. It writes its ring areas directly; buffers are
 * IOVAs that only the device side translates.
 *
 * <p>Trusts the device it talks to as far as ring contents go, but checks the ids the device
 * returns. Not thread-safe: one thread adds, kicks and collects.
 *
 * <pre>{@code
 * DriverQueue q = DriverQueue.create(size, descArea, driverArea, deviceArea, features);
 * int id = q.add(iovas, lengths, readable, writable);   // -1: not enough free descriptors
 * if (q.kickPrepare()) { kick(); }
 * ... interrupt ...
 * for (int used; (used = q.pollUsed()) >= 0; ) { complete(used, q.usedLength()); }
 * }</pre>
 */
public sealed interface DriverQueue permits SplitDriverQueue, PackedDriverQueue {

    /**
     * Makes the driver end over ring areas the caller allocated (and placed in the device's IOVA
     * space); the areas are zeroed here, as a driver does before handing them to the device.
     *
     * @param size queue size: a power of two up to 32768 for split, 1 to 32768 for packed
     * @param descArea the descriptor table or ring, {@code 16 * size} bytes
     * @param driverArea the available ring (split) or driver event suppression area (packed)
     * @param deviceArea the used ring (split) or device event suppression area (packed)
     * @param features the negotiated features; {@link VirtioFeatures#RING_PACKED} chooses the layout
     */
    static DriverQueue create(int size, MemorySegment descArea, MemorySegment driverArea,
            MemorySegment deviceArea, long features) {
        if (RingAccess.has(features, VirtioFeatures.RING_PACKED)) {
            return new PackedDriverQueue(size, descArea, driverArea, deviceArea, features);
        }
        return new SplitDriverQueue(size, descArea, driverArea, deviceArea, features);
    }

    /** The queue size. */
    int size();

    /** Descriptors (split table entries or packed ring slots) free for new chains. */
    int freeDescriptors();

    /**
     * Makes a chain available: entries {@code 0..readable-1} of the arrays are buffers the device
     * reads, the next {@code writable} ones buffers it writes.
     *
     * @param iovas buffer addresses in the device's IOVA space
     * @param lengths buffer lengths (unsigned 32-bit)
     * @return the chain's id, as the device will return it, or -1 if too few descriptors are free
     */
    int add(long[] iovas, int[] lengths, int readable, int writable);

    /**
     * Like {@link #add} through an indirect table: one ring descriptor points at a table the
     * caller provides, {@code 16 * (readable + writable)} bytes at {@code tableIova}, written here
     * through {@code table} (which must stay untouched until the chain is used).
     *
     * @return the chain's id, or -1 if no descriptor is free
     */
    int addIndirect(long[] iovas, int[] lengths, int readable, int writable, long tableIova, MemorySegment table);

    /**
     * Decides whether the chains added since the last call need a kick, as the device's
     * {@code avail_event} or flags say (split) or its event suppression (packed).
     */
    boolean kickPrepare();

    /** The id of the next used chain, freeing its descriptors, or -1 if the device used none yet. */
    int pollUsed();

    /** The length the device wrote into the chain {@link #pollUsed()} last returned. */
    int usedLength();

    /** Asks the device not to interrupt; a hint the device may ignore. */
    void disableInterrupts();

    /**
     * Asks the device to interrupt for the next used chain, then looks at the ring once more.
     *
     * @return true if used chains are already waiting: poll instead of waiting for an interrupt
     */
    boolean enableInterrupts();
}
