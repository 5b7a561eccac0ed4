package io.vduse.virtqueue;

import static io.vduse.virtqueue.RingAccess.laU16;
import static io.vduse.virtqueue.RingAccess.lpI32;
import static io.vduse.virtqueue.RingAccess.lpU16;
import static io.vduse.virtqueue.RingAccess.soU16;
import static io.vduse.virtqueue.RingAccess.spI32;
import static io.vduse.virtqueue.RingAccess.spI64;
import static io.vduse.virtqueue.RingAccess.spU16;

import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The driver end of a split virtqueue (virtio 1.2, 2.7), in the manner of Linux's
 * {@code virtio_ring.c}: free descriptors form a list linked through a private copy of
 * {@code next}, so freeing a chain never reads memory the device can write.
 */
final class SplitDriverQueue implements DriverQueue {

    private final int size;
    private final int mask;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final boolean eventIdx;
    private final long usedEventOffset;
    private final long availEventOffset;

    private final int[] shadowNext;
    private final int[] chainLength;
    private int freeHead;
    private int numFree;

    private int availIdx;
    private long numAdded;
    private int lastUsed;
    private int shadowUsed;
    private int usedLength;
    private boolean interruptsEnabled = true;

    SplitDriverQueue(int size, MemorySegment desc, MemorySegment avail, MemorySegment used, long features) {
        if (size < 1 || size > SplitRing.MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("split queue size %d is not a power of two in 1..32768".formatted(size));
        }
        this.size = size;
        this.mask = size - 1;
        this.desc = desc.asSlice(0, SplitRing.descTableSize(size));
        this.avail = avail.asSlice(0, SplitRing.availRingSize(size));
        this.used = used.asSlice(0, SplitRing.usedRingSize(size));
        this.eventIdx = RingAccess.has(features, VirtioFeatures.EVENT_IDX);
        this.usedEventOffset = SplitRing.usedEventOffset(size);
        this.availEventOffset = SplitRing.availEventOffset(size);
        this.desc.fill((byte) 0);
        this.avail.fill((byte) 0);
        this.used.fill((byte) 0);
        this.shadowNext = new int[size];
        this.chainLength = new int[size];
        for (int i = 0; i < size; i++) {
            shadowNext[i] = i + 1;
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

    @Override
    public int add(long[] iovas, int[] lengths, int readable, int writable) {
        DriverChainCheck.counts(iovas, lengths, readable, writable, size);
        int n = readable + writable;
        if (n > numFree) {
            return -1;
        }
        int head = freeHead;
        int d = head;
        for (int i = 0; i < n; i++) {
            int flags = (i >= readable ? SplitRing.DESC_F_WRITE : 0) | (i < n - 1 ? SplitRing.DESC_F_NEXT : 0);
            writeDesc(desc, d * SplitRing.DESC_SIZE, iovas[i], lengths[i], flags, shadowNext[d]);
            d = shadowNext[d];
        }
        freeHead = d;
        numFree -= n;
        chainLength[head] = n;
        publish(head);
        return head;
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
            int flags = (i >= readable ? SplitRing.DESC_F_WRITE : 0) | (i < n - 1 ? SplitRing.DESC_F_NEXT : 0);
            writeDesc(table, i * SplitRing.DESC_SIZE, iovas[i], lengths[i], flags, i + 1);
        }
        int head = freeHead;
        writeDesc(desc, head * SplitRing.DESC_SIZE, tableIova, (int) (n * SplitRing.DESC_SIZE),
                SplitRing.DESC_F_INDIRECT, shadowNext[head]);
        freeHead = shadowNext[head];
        numFree--;
        chainLength[head] = 1;
        publish(head);
        return head;
    }

    private static void writeDesc(MemorySegment to, long off, long addr, int len, int flags, int next) {
        spI64(to, off + SplitRing.DESC_ADDR, addr);
        spI32(to, off + SplitRing.DESC_LEN, len);
        spU16(to, off + SplitRing.DESC_FLAGS, flags);
        spU16(to, off + SplitRing.DESC_NEXT, next & 0xffff);
    }

    private void publish(int head) {
        spU16(avail, SplitRing.AVAIL_RING + 2L * (availIdx & mask), head);
        availIdx = (availIdx + 1) & 0xffff;
        // Release: the device reads idx with acquire and then the ring entry and the
        // descriptors; they must be visible before the idx that covers them.
        soU16(avail, SplitRing.AVAIL_IDX, availIdx);
        numAdded++;
    }

    @Override
    public boolean kickPrepare() {
        if (numAdded == 0) {
            return false;
        }
        // Full fence (store avail idx, then load avail_event / flags): the device stores
        // avail_event or clears NO_NOTIFY and then re-reads avail idx; without store-load ordering
        // on both sides, neither sees the other's store and the new chain waits without a kick.
        VarHandle.fullFence();
        long added = numAdded;
        numAdded = 0;
        if (eventIdx) {
            // After 2^16 additions every event index has been passed.
            return added > 0xffff
                    || SplitRing.needEvent(lpU16(used, availEventOffset), availIdx, (int) (availIdx - added));
        }
        return (lpU16(used, SplitRing.USED_FLAGS) & SplitRing.USED_F_NO_NOTIFY) == 0;
    }

    @Override
    public int pollUsed() {
        if (lastUsed == shadowUsed) {
            // Acquire: the device writes the elements before it publishes idx with release.
            shadowUsed = laU16(used, SplitRing.USED_IDX);
            if (lastUsed == shadowUsed) {
                return -1;
            }
        }
        long off = SplitRing.USED_RING + SplitRing.USED_ELEM_SIZE * (lastUsed & mask);
        int id = lpI32(used, off);
        int len = lpI32(used, off + 4);
        if (id < 0 || id >= size || chainLength[id] == 0) {
            throw new IllegalStateException("device returned id %d, not a chain in flight".formatted(id));
        }
        int n = chainLength[id];
        chainLength[id] = 0;
        int last = id;
        for (int i = 1; i < n; i++) {
            last = shadowNext[last];
        }
        shadowNext[last] = freeHead;
        freeHead = id;
        numFree += n;
        lastUsed = (lastUsed + 1) & 0xffff;
        usedLength = len;
        if (eventIdx && interruptsEnabled) {
            // Ask for an interrupt at the next element; full fence (store used_event, then the
            // next poll loads used idx) against the device's store of idx and load of used_event.
            spU16(avail, usedEventOffset, lastUsed);
            VarHandle.fullFence();
        }
        return id;
    }

    @Override
    public int usedLength() {
        return usedLength;
    }

    @Override
    public void disableInterrupts() {
        interruptsEnabled = false;
        if (eventIdx) {
            // An index just behind us: the device passes it again only 2^16 elements later.
            spU16(avail, usedEventOffset, (lastUsed - 1) & 0xffff);
        } else {
            spU16(avail, SplitRing.AVAIL_FLAGS, SplitRing.AVAIL_F_NO_INTERRUPT);
        }
    }

    @Override
    public boolean enableInterrupts() {
        interruptsEnabled = true;
        if (eventIdx) {
            spU16(avail, usedEventOffset, lastUsed);
        } else {
            spU16(avail, SplitRing.AVAIL_FLAGS, 0);
        }
        // Full fence (store used_event / flags, then load used idx): the device stores used idx
        // and then loads ours; without store-load ordering on both sides the interrupt is lost.
        VarHandle.fullFence();
        // Acquire, as in pollUsed: the elements below the idx seen here are read next.
        return laU16(used, SplitRing.USED_IDX) != lastUsed;
    }
}
