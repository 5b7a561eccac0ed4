package io.vduse.virtqueue;

import static io.vduse.virtqueue.RingAccess.laU16;
import static io.vduse.virtqueue.RingAccess.lpI32;
import static io.vduse.virtqueue.RingAccess.lpI64;
import static io.vduse.virtqueue.RingAccess.lpU16;
import static io.vduse.virtqueue.RingAccess.soU16;
import static io.vduse.virtqueue.RingAccess.spI32;
import static io.vduse.virtqueue.RingAccess.spU16;

import io.vduse.api.VqState;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.iova.Access;
import io.vduse.iova.IovaMemory;
import io.vduse.virtqueue.VirtqueueException.Reason;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The device end of a split virtqueue (virtio 1.2, 2.7).
 *
 * <p>Indexes are free-running 16-bit counters as in the specification: {@code lastAvail} is the
 * next available-ring entry to read, {@code usedIdx} counts pushed used elements and
 * {@code publishedUsed} the ones the driver may see.
 */
final class SplitDeviceQueue extends DeviceQueueBase {

    private final long descIova;
    private final long driverIova;
    private final long deviceIova;
    private final long availBytes;
    private final long usedBytes;
    // Re-sliced by remap(); queue thread only, like every other field here.
    private MemorySegment desc;
    private MemorySegment avail;
    private MemorySegment used;
    private final int mask;
    private final boolean eventIdx;
    private final boolean indirectAllowed;
    private final long usedEventOffset;
    private final long availEventOffset;

    // One stamp per chain walk marks visited descriptors, so a loop is found without clearing.
    private final int[] visited;
    private int stamp;

    private int lastAvail;
    private int shadowAvail;
    private int usedIdx;
    private int publishedUsed;

    SplitDeviceQueue(IovaMemory memory, int size, long descIova, long driverIova, long deviceIova,
            long features, VqState.Split state) {
        super(memory, size, features);
        if (size < 1 || size > SplitRing.MAX_SIZE || Integer.bitCount(size) != 1) {
            throw setup("split queue size %d is not a power of two in 1..%d".formatted(size, SplitRing.MAX_SIZE));
        }
        this.mask = size - 1;
        this.eventIdx = RingAccess.has(features, VirtioFeatures.EVENT_IDX);
        this.indirectAllowed = RingAccess.has(features, VirtioFeatures.INDIRECT_DESC);
        // used_event and avail_event exist only with EVENT_IDX; without it the driver need not
        // have mapped those two bytes.
        this.availBytes = SplitRing.availRingSize(size) - (eventIdx ? 0 : 2);
        this.usedBytes = SplitRing.usedRingSize(size) - (eventIdx ? 0 : 2);
        this.descIova = descIova;
        this.driverIova = driverIova;
        this.deviceIova = deviceIova;
        sliceRings();
        this.usedEventOffset = SplitRing.usedEventOffset(size);
        this.availEventOffset = SplitRing.availEventOffset(size);
        this.visited = new int[size];
        start(state);
    }

    @Override
    void sliceRings() {
        desc = ringArea("descriptor table", descIova, SplitRing.descTableSize(size), SplitRing.DESC_ALIGN,
                Access.READ);
        avail = ringArea("available ring", driverIova, availBytes, SplitRing.AVAIL_ALIGN, Access.READ);
        used = ringArea("used ring", deviceIova, usedBytes, SplitRing.USED_ALIGN, Access.READ_WRITE);
    }


    private void start(VqState.Split state) {
        int usedInRing;
        try {
            usedInRing = lpU16(used, SplitRing.USED_IDX);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
        int inFlight = (state.availIndex() - usedInRing) & 0xffff;
        if (inFlight > size) {
            throw new VirtqueueException(Reason.BAD_STATE,
                    "last_avail_idx %d is %d ahead of used idx %d in a queue of size %d"
                            .formatted(state.availIndex(), inFlight, usedInRing, size));
        }
        lastAvail = state.availIndex();
        shadowAvail = lastAvail;
        // The used ring's own idx is where the device left it before a restart.
        usedIdx = usedInRing;
        publishedUsed = usedInRing;
        clearFailure();
    }

    @Override
    public boolean isPacked() {
        return false;
    }

    @Override
    public boolean pop(DescriptorChain chain) {
        checkNotBroken();
        try {
            if (lastAvail == shadowAvail && !refreshAvail()) {
                return false;
            }
            int head = lpU16(avail, SplitRing.AVAIL_RING + 2L * (lastAvail & mask));
            walk(head, chain);
            lastAvail = (lastAvail + 1) & 0xffff;
            return true;
        } catch (VirtqueueException e) {
            throw fail(e);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    @Override
    public void copyRingDescriptor(DescriptorChain chain, int i, MemorySegment to, long offset) {
        throw new UnsupportedOperationException("a split ring keeps its chains in the descriptor table until they "
                + "are used: resubmit reads them there");
    }

    @Override
    public void resubmit(DescriptorChain chain, int id, MemorySegment descriptors, int count) {
        checkResubmittable(chain);
        try {
            if (id < 0 || id >= size) {
                throw new VirtqueueException(Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE,
                        "resubmitted head %d in a queue of size %d".formatted(id, size));
            }
            walk(id, chain);
        } catch (VirtqueueException e) {
            throw fail(e);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    /** Reads the driver's available index; returns whether it is ahead of {@code lastAvail}. */
    private boolean refreshAvail() {
        // Acquire: the driver writes descriptors and the ring entry before it publishes idx with a
        // write barrier; without acquire our later reads of them could see older contents.
        int idx = laU16(avail, SplitRing.AVAIL_IDX);
        int ahead = (idx - publishedUsed) & 0xffff;
        int consumed = (lastAvail - publishedUsed) & 0xffff;
        if (ahead > size || ahead < consumed) {
            throw new VirtqueueException(Reason.AVAIL_INDEX_TOO_FAR,
                    "available idx %d with used idx %d and last_avail_idx %d in a queue of size %d"
                            .formatted(idx, publishedUsed, lastAvail, size));
        }
        shadowAvail = idx;
        return idx != lastAvail;
    }

    private int nextStamp() {
        if (++stamp == 0) {
            Arrays.fill(visited, 0);
            stamp = 1;
        }
        return stamp;
    }

    private void walk(int head, DescriptorChain chain) {
        chain.begin();
        int mark = nextStamp();
        int index = head;
        while (true) {
            if (index >= size) {
                throw new VirtqueueException(Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE,
                        "descriptor %d in a queue of size %d (chain head %d)".formatted(index, size, head));
            }
            if (visited[index] == mark) {
                throw new VirtqueueException(Reason.DESCRIPTOR_LOOP,
                        "descriptor %d comes back in the chain of head %d".formatted(index, head));
            }
            visited[index] = mark;
            long off = index * SplitRing.DESC_SIZE;
            long addr = lpI64(desc, off + SplitRing.DESC_ADDR);
            int len = lpI32(desc, off + SplitRing.DESC_LEN);
            int flags = lpU16(desc, off + SplitRing.DESC_FLAGS);
            int next = lpU16(desc, off + SplitRing.DESC_NEXT);
            if ((flags & SplitRing.DESC_F_INDIRECT) != 0) {
                walkIndirect(head, index, addr, len, flags, chain);
                break;
            }
            chain.add(addr, len, (flags & SplitRing.DESC_F_WRITE) != 0);
            if ((flags & SplitRing.DESC_F_NEXT) == 0) {
                break;
            }
            index = next;
        }
        chain.finish(head, 1, head);
    }

    private void walkIndirect(int head, int index, long addr, int len, int flags, DescriptorChain chain) {
        if (!indirectAllowed) {
            throw new VirtqueueException(Reason.INDIRECT_NOT_NEGOTIATED,
                    "descriptor %d of chain %d is indirect".formatted(index, head));
        }
        if ((flags & SplitRing.DESC_F_NEXT) != 0) {
            throw new VirtqueueException(Reason.INDIRECT_WITH_NEXT,
                    "descriptor %d of chain %d has flags 0x%x".formatted(index, head, flags));
        }
        int entries = indirect.open(addr, len, size - chain.bufferCount());
        MemorySegment entry = indirect.entry();
        int mark = nextStamp();
        int i = 0;
        while (true) {
            if (i >= entries) {
                throw new VirtqueueException(Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE,
                        "indirect entry %d in a table of %d (chain head %d)".formatted(i, entries, head));
            }
            if (visited[i] == mark) {
                throw new VirtqueueException(Reason.DESCRIPTOR_LOOP,
                        "indirect entry %d comes back in the table of chain %d".formatted(i, head));
            }
            visited[i] = mark;
            indirect.load(i);
            int f = lpU16(entry, SplitRing.DESC_FLAGS);
            if ((f & SplitRing.DESC_F_INDIRECT) != 0) {
                throw new VirtqueueException(Reason.NESTED_INDIRECT,
                        "indirect entry %d of chain %d is itself indirect".formatted(i, head));
            }
            chain.add(lpI64(entry, SplitRing.DESC_ADDR), lpI32(entry, SplitRing.DESC_LEN),
                    (f & SplitRing.DESC_F_WRITE) != 0);
            if ((f & SplitRing.DESC_F_NEXT) == 0) {
                return;
            }
            i = lpU16(entry, SplitRing.DESC_NEXT);
        }
    }

    @Override
    public void push(DescriptorChain chain, int writtenLength) {
        checkNotBroken();
        checkPushable(chain, writtenLength);
        if (((lastAvail - usedIdx) & 0xffff) == 0) {
            throw new IllegalStateException("push without a popped chain in flight");
        }
        long off = SplitRing.USED_RING + SplitRing.USED_ELEM_SIZE * (usedIdx & mask);
        try {
            // Plain stores: publish() orders them before the used idx the driver polls.
            spI32(used, off, chain.id());
            spI32(used, off + 4, writtenLength);
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
        usedIdx = (usedIdx + 1) & 0xffff;
    }

    @Override
    public boolean publish() {
        checkNotBroken();
        if (usedIdx == publishedUsed) {
            return false;
        }
        int old = publishedUsed;
        try {
            // Release: the driver reads used idx, then the elements below it; every element
            // written by push must be visible before the new idx is.
            soU16(used, SplitRing.USED_IDX, usedIdx);
            publishedUsed = usedIdx;
            // Full fence (store used idx, then load used_event / flags): the driver does the
            // mirror image (store used_event or clear NO_INTERRUPT, then load used idx to see
            // whether it missed something). Without store-load ordering on both sides each can
            // read the other's old value: we skip the interrupt, it goes to sleep, and the used
            // elements sit unnoticed.
            VarHandle.fullFence();
            if (eventIdx) {
                // old is exact even after a restart: it is the used idx the ring itself held.
                return SplitRing.needEvent(lpU16(avail, usedEventOffset), usedIdx, old);
            }
            return (lpU16(avail, SplitRing.AVAIL_FLAGS) & SplitRing.AVAIL_F_NO_INTERRUPT) == 0;
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    @Override
    public void disableNotifications() {
        checkNotBroken();
        // With EVENT_IDX, leaving avail_event behind is enough: the driver kicks only when its
        // index moves past it. Without, the flag is the hint.
        if (!eventIdx) {
            try {
                spU16(used, SplitRing.USED_FLAGS, SplitRing.USED_F_NO_NOTIFY);
            } catch (IllegalStateException e) {
                throw ringGone(e);
            }
        }
    }

    @Override
    public boolean enableNotifications() {
        checkNotBroken();
        try {
            if (eventIdx) {
                spU16(used, availEventOffset, lastAvail);
            } else {
                spU16(used, SplitRing.USED_FLAGS, 0);
            }
            // Full fence (store avail_event / flags, then load avail idx): the driver stores avail
            // idx and then loads avail_event / flags to decide whether to kick. Without store-load
            // ordering we may read the old avail idx and sleep while the driver reads our old
            // "don't notify" and skips the kick: a lost wake-up with a chain waiting.
            VarHandle.fullFence();
            // Acquire, as in pop: a chain seen here is read next without another barrier.
            return laU16(avail, SplitRing.AVAIL_IDX) != lastAvail;
        } catch (IllegalStateException e) {
            throw ringGone(e);
        }
    }

    @Override
    public int usedIndex() {
        return usedIdx;
    }

    @Override
    public long stateWord() {
        return lastAvail;
    }

    @Override
    public VqState state() {
        return new VqState.Split(lastAvail);
    }

    @Override
    public void reset(VqState state) {
        if (!(state instanceof VqState.Split split)) {
            throw new IllegalArgumentException("split ring given " + state);
        }
        try {
            start(split);
        } catch (VirtqueueException e) {
            // Running on from the old position would be as wrong as the new one: stop.
            throw replaceFailure(e);
        }
    }
}
