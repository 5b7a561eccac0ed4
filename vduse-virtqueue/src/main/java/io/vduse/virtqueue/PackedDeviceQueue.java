package io.vduse.virtqueue;

import static io.vduse.virtqueue.RingAccess.laU16;
import static io.vduse.virtqueue.RingAccess.lpI32;
import static io.vduse.virtqueue.RingAccess.lpI64;
import static io.vduse.virtqueue.RingAccess.lpU16;
import static io.vduse.virtqueue.RingAccess.soU16;
import static io.vduse.virtqueue.RingAccess.spI32;
import static io.vduse.virtqueue.RingAccess.spU16;

import io.vduse.api.Layouts;
import io.vduse.api.VqState;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.iova.Access;
import io.vduse.iova.IovaMemory;
import io.vduse.virtqueue.VirtqueueException.Reason;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The device end of a packed virtqueue (virtio 1.2, 2.8).
 *
 * <p>The device reads the descriptor ring at {@code availIdx}, where a descriptor is available
 * when its AVAIL bit equals {@code availWrap} and its USED bit does not; it writes used
 * descriptors back at {@code usedIdx} with both bits equal to {@code usedWrap}. A chain takes as
 * many ring slots as it has ring descriptors (one for an indirect table), and its used
 * descriptor advances {@code usedIdx} by that many (2.8, "Next Flag: Descriptor Chaining").
 */
final class PackedDeviceQueue extends DeviceQueueBase {

    /** A fresh ring: positions 0, wrap counters 1 (2.8, "Driver and Device Ring Wrap Counters"). */
    static final VqState.Packed INITIAL = new VqState.Packed(1, 0, 1, 0);

    private static final int EVENT_WRAP_BIT = 15;

    private final long descIova;
    private final long driverIova;
    private final long deviceIova;
    // Re-sliced by remap(); queue thread only, like every other field here.
    private MemorySegment ring;
    private MemorySegment driverEvent;
    private MemorySegment deviceEvent;
    private final boolean eventIdx;
    private final boolean indirectAllowed;

    private int availIdx;
    private boolean availWrap;
    private int usedIdx;
    private boolean usedWrap;
    // Slots popped but not pushed: bounds where push may write.
    private int inFlightSlots;
    // The first used descriptor of a batch gets its flags last, in publish().
    private int pendingCount;
    private long pendingFirstOffset;
    private int pendingFirstFlags;
    private int slotsSinceDecision;

    PackedDeviceQueue(IovaMemory memory, int size, long descIova, long driverIova, long deviceIova,
            long features, VqState.Packed state) {
        super(memory, size, features);
        if (size < 1 || size > PackedRing.MAX_SIZE) {
            throw setup("packed queue size %d is not in 1..%d".formatted(size, PackedRing.MAX_SIZE));
        }
        this.eventIdx = RingAccess.has(features, VirtioFeatures.EVENT_IDX);
        this.indirectAllowed = RingAccess.has(features, VirtioFeatures.INDIRECT_DESC);
        this.descIova = descIova;
        this.driverIova = driverIova;
        this.deviceIova = deviceIova;
        sliceRings();
        start(state);
    }

    @Override
    void sliceRings() {
        // The device writes used descriptors into the ring and its own suppression area.
        ring = ringArea("descriptor ring", descIova, PackedRing.descRingSize(size),
                PackedRing.DESC_ALIGN, Access.READ_WRITE);
        driverEvent = ringArea("driver event suppression", driverIova, PackedRing.EVENT_SUPPRESS_SIZE,
                PackedRing.EVENT_ALIGN, Access.READ);
        deviceEvent = ringArea("device event suppression", deviceIova, PackedRing.EVENT_SUPPRESS_SIZE,
                PackedRing.EVENT_ALIGN, Access.READ_WRITE);
    }


    private void start(VqState.Packed state) {
        if (state.lastAvailIdx() >= size || state.lastUsedIdx() >= size
                || state.lastAvailCounter() > 1 || state.lastUsedCounter() > 1) {
            throw new VirtqueueException(Reason.BAD_STATE, "%s for a packed queue of size %d".formatted(state, size));
        }
        int inFlight = position(state.lastAvailIdx(), state.lastAvailCounter())
                - position(state.lastUsedIdx(), state.lastUsedCounter());
        // The used position trails the avail position by at most one lap.
        inFlight = Math.floorMod(inFlight, 2 * size);
        if (inFlight > size) {
            throw new VirtqueueException(Reason.BAD_STATE,
                    "%s: the used position is not within one lap behind the available one (size %d)"
                            .formatted(state, size));
        }
        availIdx = state.lastAvailIdx();
        availWrap = state.lastAvailCounter() == 1;
        usedIdx = state.lastUsedIdx();
        usedWrap = state.lastUsedCounter() == 1;
        inFlightSlots = inFlight;
        pendingCount = 0;
        slotsSinceDecision = 0;
        clearFailure();
    }

    /** A position on a two-lap circle, so avail and used positions can be subtracted. */
    private int position(int idx, int counter) {
        return idx + (counter == 1 ? 0 : size);
    }

    @Override
    public boolean isPacked() {
        return true;
    }

    private static boolean isAvailable(int flags, boolean wrap) {
        boolean avail = (flags & PackedRing.DESC_F_AVAIL) != 0;
        boolean used = (flags & PackedRing.DESC_F_USED) != 0;
        return avail == wrap && used != wrap;
    }

    @Override
    public boolean pop(DescriptorChain chain) {
        checkNotBroken();
        try {
            // Acquire: the driver writes a whole chain, then the head's flags with a write
            // barrier; reading those flags with acquire makes the rest of the chain visible.
            int flags = laU16(ring, availIdx * PackedRing.DESC_SIZE + PackedRing.DESC_FLAGS);
            if (!isAvailable(flags, availWrap)) {
                return false;
            }
            int slots = walk(ring, availIdx, size, flags, chain);
            availIdx += slots;
            if (availIdx >= size) {
                availIdx -= size;
                availWrap = !availWrap;
            }
            inFlightSlots += slots;
            return true;
        } catch (VirtqueueException e) {
            throw fail(e);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    /**
     * Reads the chain whose first descriptor is at {@code start} of {@code from}, a ring of
     * {@code limit} descriptors (the descriptor ring itself, or a resubmitted chain's copies),
     * and returns how many descriptors it took.
     */
    private int walk(MemorySegment from, int start, int limit, int headFlags, DescriptorChain chain) {
        chain.begin();
        int pos = start;
        int flags = headFlags;
        int slots = 0;
        int id;
        while (true) {
            long off = pos * PackedRing.DESC_SIZE;
            if (slots > 0) {
                // Covered by the acquire on the head's flags: the driver wrote these first.
                flags = lpU16(from, off + PackedRing.DESC_FLAGS);
            }
            slots++;
            long addr = lpI64(from, off + PackedRing.DESC_ADDR);
            int len = lpI32(from, off + PackedRing.DESC_LEN);
            int descId = lpU16(from, off + PackedRing.DESC_ID);
            if (++pos == limit) {
                pos = 0;
            }
            if ((flags & PackedRing.DESC_F_INDIRECT) != 0) {
                walkIndirect(descId, addr, len, flags, chain);
                id = descId;
                break;
            }
            chain.add(addr, len, (flags & PackedRing.DESC_F_WRITE) != 0);
            if ((flags & PackedRing.DESC_F_NEXT) == 0) {
                id = descId;
                break;
            }
            if (slots == limit) {
                throw new VirtqueueException(Reason.CHAIN_TOO_LONG,
                        "chain from ring slot %d goes on past %d descriptors (queue size %d)"
                                .formatted(start, slots, size));
            }
        }
        chain.finish(id, slots, start);
        return slots;
    }

    @Override
    public void copyRingDescriptor(DescriptorChain chain, int i, MemorySegment to, long offset) {
        if (chain.queue() != this) {
            throw new IllegalArgumentException("chain belongs to another queue");
        }
        java.util.Objects.checkIndex(i, chain.ringSlots());
        int slot = chain.ringStart() + i;
        if (slot >= size) {
            slot -= size;
        }
        long from = slot * PackedRing.DESC_SIZE;
        try {
            // Two 8-byte words (addr; len, id and flags): cheaper than a bulk copy of 16 bytes.
            to.set(Layouts.LE64, offset, lpI64(ring, from));
            to.set(Layouts.LE64, offset + 8, lpI64(ring, from + 8));
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    @Override
    public void resubmit(DescriptorChain chain, int id, MemorySegment descriptors, int count) {
        checkResubmittable(chain);
        try {
            if (count < 1 || count > size) {
                throw new VirtqueueException(Reason.CHAIN_TOO_LONG,
                        "resubmitted chain of %d descriptors in a queue of size %d".formatted(count, size));
            }
            int slots = walk(descriptors, 0, count, lpU16(descriptors, PackedRing.DESC_FLAGS), chain);
            if (slots != count || chain.id() != id) {
                throw new VirtqueueException(Reason.BAD_STATE,
                        "the %d copied descriptor(s) of buffer %d make a chain of %d with buffer id %d"
                                .formatted(count, id, slots, chain.id()));
            }
        } catch (VirtqueueException e) {
            throw fail(e);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    private void walkIndirect(int id, long addr, int len, int flags, DescriptorChain chain) {
        if (!indirectAllowed) {
            throw new VirtqueueException(Reason.INDIRECT_NOT_NEGOTIATED,
                    "descriptor of buffer %d at ring slot %d is indirect".formatted(id, availIdx));
        }
        if ((flags & PackedRing.DESC_F_NEXT) != 0) {
            throw new VirtqueueException(Reason.INDIRECT_WITH_NEXT,
                    "descriptor of buffer %d has flags 0x%x".formatted(id, flags));
        }
        int entries = indirect.open(addr, len, size - chain.bufferCount());
        MemorySegment entry = indirect.entry();
        // A packed indirect table is used in order, all of it (2.8, "Indirect Flag: Scatter-Gather
        // Support"); NEXT means nothing there.
        for (int i = 0; i < entries; i++) {
            indirect.load(i);
            int f = lpU16(entry, PackedRing.DESC_FLAGS);
            if ((f & PackedRing.DESC_F_INDIRECT) != 0) {
                throw new VirtqueueException(Reason.NESTED_INDIRECT,
                        "indirect entry %d of buffer %d is itself indirect".formatted(i, id));
            }
            chain.add(lpI64(entry, PackedRing.DESC_ADDR), lpI32(entry, PackedRing.DESC_LEN),
                    (f & PackedRing.DESC_F_WRITE) != 0);
        }
    }

    @Override
    public void push(DescriptorChain chain, int writtenLength) {
        checkNotBroken();
        checkPushable(chain, writtenLength);
        int slots = chain.ringSlots();
        if (slots > inFlightSlots) {
            throw new IllegalStateException("push of a %d-slot chain with %d slots in flight"
                    .formatted(slots, inFlightSlots));
        }
        long off = usedIdx * PackedRing.DESC_SIZE;
        int flags = usedWrap ? PackedRing.DESC_F_AVAIL | PackedRing.DESC_F_USED : 0;
        try {
            // The slot at usedIdx belongs to a chain already popped, so the device may write it.
            spI32(ring, off + PackedRing.DESC_LEN, writtenLength);
            spU16(ring, off + PackedRing.DESC_ID, chain.id());
            if (pendingCount == 0) {
                pendingFirstOffset = off;
                pendingFirstFlags = flags;
            } else {
                // Release: id and len before the flags that make them used. The driver reaches
                // this descriptor only after the batch's first one, published last.
                soU16(ring, off + PackedRing.DESC_FLAGS, flags);
            }
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
        pendingCount++;
        inFlightSlots -= slots;
        slotsSinceDecision += slots;
        usedIdx += slots;
        if (usedIdx >= size) {
            usedIdx -= size;
            usedWrap = !usedWrap;
        }
    }

    @Override
    public boolean publish() {
        checkNotBroken();
        if (pendingCount == 0) {
            return false;
        }
        try {
            // Release: every id and len of the batch (and the later descriptors' flags) must be
            // visible before the first descriptor turns used, since the driver reads on from it.
            soU16(ring, pendingFirstOffset + PackedRing.DESC_FLAGS, pendingFirstFlags);
            pendingCount = 0;
            int advanced = slotsSinceDecision;
            slotsSinceDecision = 0;
            // Full fence (store used flags, then load the driver's event suppression): the
            // driver enables interrupts and then re-reads the ring. Without store-load ordering
            // both sides read stale values and the interrupt is lost.
            VarHandle.fullFence();
            int word = lpI32(driverEvent, PackedRing.EVENT_OFF_WRAP);
            int offWrap = word & 0xffff;
            int flags = word >>> 16;
            if (flags == PackedRing.EVENT_FLAGS_DISABLE) {
                return false;
            }
            if (flags != PackedRing.EVENT_FLAGS_DESC || !eventIdx) {
                // ENABLE, or a value we do not know: an extra interrupt is harmless.
                return true;
            }
            return needEvent(offWrap, usedIdx, usedWrap, advanced);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    /**
     * Whether moving from {@code newIdx - advanced} to {@code newIdx} passes the descriptor
     * {@code offWrap} names, all taken relative to the current lap so the 16-bit formula of
     * of {@link SplitRing#needEvent} applies across a wrap.
     */
    private boolean needEvent(int offWrap, int newIdx, boolean wrap, int advanced) {
        int event = offWrap & ~(1 << EVENT_WRAP_BIT);
        boolean eventWrap = (offWrap >>> EVENT_WRAP_BIT) != 0;
        if (eventWrap != wrap) {
            event -= size;
        }
        return SplitRing.needEvent(event, newIdx, newIdx - advanced);
    }

    @Override
    public void disableNotifications() {
        checkNotBroken();
        try {
            spU16(deviceEvent, PackedRing.EVENT_FLAGS, PackedRing.EVENT_FLAGS_DISABLE);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    @Override
    public boolean enableNotifications() {
        checkNotBroken();
        try {
            if (eventIdx) {
                int offWrap = availIdx | (availWrap ? 1 << EVENT_WRAP_BIT : 0);
                // One 32-bit store: the driver reads off_wrap and flags as one word too.
                spI32(deviceEvent, PackedRing.EVENT_OFF_WRAP, offWrap | PackedRing.EVENT_FLAGS_DESC << 16);
            } else {
                spI32(deviceEvent, PackedRing.EVENT_OFF_WRAP, PackedRing.EVENT_FLAGS_ENABLE << 16);
            }
            // Full fence (store our event suppression, then load the next descriptor's flags):
            // the driver stores a head's flags and then loads our suppression to decide whether
            // to kick; without store-load ordering both read stale values and the kick is lost.
            VarHandle.fullFence();
            // Acquire, as in pop: a chain seen here is read next without another barrier.
            return isAvailable(laU16(ring, availIdx * PackedRing.DESC_SIZE + PackedRing.DESC_FLAGS), availWrap);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    @Override
    public int usedIndex() {
        return usedIdx | (usedWrap ? 0x8000 : 0);
    }

    @Override
    public long stateWord() {
        // Indexes are below 2^15 (the largest packed ring), so each pair fits 16 bits.
        long avail = availIdx | (availWrap ? 0x8000 : 0);
        long used = usedIdx | (usedWrap ? 0x8000 : 0);
        return avail | used << 16;
    }

    @Override
    public VqState state() {
        return new VqState.Packed(availWrap ? 1 : 0, availIdx, usedWrap ? 1 : 0, usedIdx);
    }

    @Override
    public void reset(VqState state) {
        if (!(state instanceof VqState.Packed packed)) {
            throw new IllegalArgumentException("packed ring given " + state);
        }
        try {
            start(packed);
        } catch (VirtqueueException e) {
            // Running on from the old position would be as wrong as the new one: stop.
            throw replaceFailure(e);
        }
    }
}
