package io.vduse.virtqueue;

import static io.vduse.virtqueue.RingAccess.laU16;
import static io.vduse.virtqueue.RingAccess.lpI32;
import static io.vduse.virtqueue.RingAccess.lpU16;
import static io.vduse.virtqueue.RingAccess.soU16;
import static io.vduse.virtqueue.RingAccess.spI32;
import static io.vduse.virtqueue.RingAccess.spI64;
import static io.vduse.virtqueue.RingAccess.spU16;

import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The driver end of a packed virtqueue (virtio 1.2, 2.8), in the manner of Linux's
 * {@code virtio_ring.c}: chains take consecutive ring slots from {@code nextAvail}, buffer ids
 * come from a free list, and each id remembers how many slots its chain took so the used
 * position can skip them (2.8, "Next Flag: Descriptor Chaining").
 */
final class PackedDriverQueue implements DriverQueue {

    private static final int EVENT_WRAP_BIT = 15;

    private final int size;
    private final MemorySegment ring;
    private final MemorySegment driverEvent;
    private final MemorySegment deviceEvent;
    private final boolean eventIdx;

    private final int[] idNext;
    private final int[] idSlots;
    private int freeId;
    private int numFree;

    private int nextAvail;
    private boolean availWrap = true;
    private long numAdded;
    private int lastUsed;
    private boolean usedWrap = true;
    private int usedLength;
    private boolean interruptsEnabled = true;

    PackedDriverQueue(int size, MemorySegment desc, MemorySegment driverEvent, MemorySegment deviceEvent,
            long features) {
        if (size < 1 || size > PackedRing.MAX_SIZE) {
            throw new IllegalArgumentException("packed queue size %d is not in 1..32768".formatted(size));
        }
        this.size = size;
        this.ring = desc.asSlice(0, PackedRing.descRingSize(size));
        this.driverEvent = driverEvent.asSlice(0, PackedRing.EVENT_SUPPRESS_SIZE);
        this.deviceEvent = deviceEvent.asSlice(0, PackedRing.EVENT_SUPPRESS_SIZE);
        this.eventIdx = RingAccess.has(features, VirtioFeatures.EVENT_IDX);
        ring.fill((byte) 0);
        this.driverEvent.fill((byte) 0);
        this.deviceEvent.fill((byte) 0);
        this.idNext = new int[size];
        this.idSlots = new int[size];
        for (int i = 0; i < size; i++) {
            idNext[i] = i + 1;
        }
        this.numFree = size;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int freeDescriptors() {
        return numFree;
    }

    /**
     * AVAIL equal to the wrap counter and USED its inverse: available in this lap (2.8, "Driver and
     * Device Ring Wrap Counters").
     */
    private static int availBits(boolean wrap) {
        return wrap ? PackedRing.DESC_F_AVAIL : PackedRing.DESC_F_USED;
    }

    @Override
    public int add(long[] iovas, int[] lengths, int readable, int writable) {
        DriverChainCheck.counts(iovas, lengths, readable, writable, size);
        int n = readable + writable;
        if (n > numFree) {
            return -1;
        }
        int id = takeId(n);
        long headOffset = nextAvail * PackedRing.DESC_SIZE;
        int headFlags = 0;
        for (int i = 0; i < n; i++) {
            int flags = (i >= readable ? PackedRing.DESC_F_WRITE : 0)
                    | (i < n - 1 ? PackedRing.DESC_F_NEXT : 0) | availBits(availWrap);
            long off = nextAvail * PackedRing.DESC_SIZE;
            writeDesc(ring, off, iovas[i], lengths[i], id);
            if (i == 0) {
                headFlags = flags;
            } else {
                spU16(ring, off + PackedRing.DESC_FLAGS, flags);
            }
            advanceAvail();
        }
        publish(headOffset, headFlags, n);
        return id;
    }

    @Override
    public int addIndirect(long[] iovas, int[] lengths, int readable, int writable, long tableIova,
            MemorySegment table) {
        DriverChainCheck.counts(iovas, lengths, readable, writable, size);
        int n = readable + writable;
        if (numFree == 0) {
            return -1;
        }
        for (int i = 0; i < n; i++) {
            long off = i * PackedRing.DESC_SIZE;
            writeDesc(table, off, iovas[i], lengths[i], 0);
            spU16(table, off + PackedRing.DESC_FLAGS, i >= readable ? PackedRing.DESC_F_WRITE : 0);
        }
        int id = takeId(1);
        long headOffset = nextAvail * PackedRing.DESC_SIZE;
        int headFlags = PackedRing.DESC_F_INDIRECT | availBits(availWrap);
        writeDesc(ring, headOffset, tableIova, (int) (n * PackedRing.DESC_SIZE), id);
        advanceAvail();
        publish(headOffset, headFlags, 1);
        return id;
    }

    private int takeId(int slots) {
        int id = freeId;
        freeId = idNext[id];
        idSlots[id] = slots;
        numFree -= slots;
        return id;
    }

    private static void writeDesc(MemorySegment to, long off, long addr, int len, int id) {
        spI64(to, off + PackedRing.DESC_ADDR, addr);
        spI32(to, off + PackedRing.DESC_LEN, len);
        spU16(to, off + PackedRing.DESC_ID, id);
    }

    private void advanceAvail() {
        if (++nextAvail == size) {
            nextAvail = 0;
            availWrap = !availWrap;
        }
    }

    private void publish(long headOffset, int headFlags, int slots) {
        // Release: the device reads the head's flags with acquire and then the whole chain; the
        // other descriptors (and the head's addr, len, id) must be visible before the head is.
        soU16(ring, headOffset + PackedRing.DESC_FLAGS, headFlags);
        numAdded += slots;
    }

    @Override
    public boolean kickPrepare() {
        if (numAdded == 0) {
            return false;
        }
        // Full fence (store head flags, then load the device's event suppression): the device
        // stores its suppression and then re-reads the ring; without store-load ordering on both
        // sides the new chain waits without a kick.
        VarHandle.fullFence();
        long added = numAdded;
        numAdded = 0;
        int word = lpI32(deviceEvent, PackedRing.EVENT_OFF_WRAP);
        int flags = word >>> 16;
        if (flags != PackedRing.EVENT_FLAGS_DESC) {
            return flags != PackedRing.EVENT_FLAGS_DISABLE;
        }
        if (added >= size) {
            // A whole lap added: whatever descriptor the device named has been passed.
            return true;
        }
        int offWrap = word & 0xffff;
        int event = offWrap & ~(1 << EVENT_WRAP_BIT);
        if (((offWrap >>> EVENT_WRAP_BIT) != 0) != availWrap) {
            event -= size;
        }
        return SplitRing.needEvent(event, nextAvail, (int) (nextAvail - added));
    }

    @Override
    public int pollUsed() {
        long off = lastUsed * PackedRing.DESC_SIZE;
        // Acquire: the device writes id and len before the flags with release.
        int flags = laU16(ring, off + PackedRing.DESC_FLAGS);
        if (!isUsed(flags)) {
            return -1;
        }
        int id = lpU16(ring, off + PackedRing.DESC_ID);
        int len = lpI32(ring, off + PackedRing.DESC_LEN);
        if (id >= size || idSlots[id] == 0) {
            throw new IllegalStateException("device returned buffer id %d, not a chain in flight".formatted(id));
        }
        int slots = idSlots[id];
        idSlots[id] = 0;
        idNext[id] = freeId;
        freeId = id;
        numFree += slots;
        lastUsed += slots;
        if (lastUsed >= size) {
            lastUsed -= size;
            usedWrap = !usedWrap;
        }
        usedLength = len;
        if (eventIdx && interruptsEnabled) {
            // Ask for an interrupt at the next used descriptor; full fence (store off_wrap, then
            // the next poll loads flags) against the device's store of flags and load of ours.
            spU16(driverEvent, PackedRing.EVENT_OFF_WRAP, offWrap());
            VarHandle.fullFence();
        }
        return id;
    }

    private boolean isUsed(int flags) {
        boolean avail = (flags & PackedRing.DESC_F_AVAIL) != 0;
        boolean used = (flags & PackedRing.DESC_F_USED) != 0;
        return avail == used && used == usedWrap;
    }

    private int offWrap() {
        return lastUsed | (usedWrap ? 1 << EVENT_WRAP_BIT : 0);
    }

    @Override
    public int usedLength() {
        return usedLength;
    }

    @Override
    public void disableInterrupts() {
        interruptsEnabled = false;
        spU16(driverEvent, PackedRing.EVENT_FLAGS, PackedRing.EVENT_FLAGS_DISABLE);
    }

    @Override
    public boolean enableInterrupts() {
        interruptsEnabled = true;
        if (eventIdx) {
            spI32(driverEvent, PackedRing.EVENT_OFF_WRAP, offWrap() | PackedRing.EVENT_FLAGS_DESC << 16);
        } else {
            spI32(driverEvent, PackedRing.EVENT_OFF_WRAP, PackedRing.EVENT_FLAGS_ENABLE << 16);
        }
        // Full fence (store our suppression, then load the next descriptor's flags): the device
        // stores used flags and then loads our suppression; without it the interrupt is lost.
        VarHandle.fullFence();
        // Acquire, as in pollUsed: id and len of a used descriptor seen here are read next.
        return isUsed(laU16(ring, lastUsed * PackedRing.DESC_SIZE + PackedRing.DESC_FLAGS));
    }
}
