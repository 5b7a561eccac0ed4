package io.vduse.virtqueue;

import io.vduse.iova.Access;
import io.vduse.iova.IovaFault;
import io.vduse.iova.IovaMemory;
import io.vduse.virtqueue.VirtqueueException.Reason;
import java.lang.foreign.MemorySegment;

/**
 * What the split and packed device ends share: the memory, the size, the failure that breaks the
 * queue, and the slicing of ring areas.
 */
abstract sealed class DeviceQueueBase implements DeviceQueue permits SplitDeviceQueue, PackedDeviceQueue {

    final IovaMemory memory;
    final int size;
    final long features;
    final IndirectTable indirect;

    // Written by whichever thread meets the bad input (the queue worker, or a thread reading a
    // chain); volatile so the worker's next pop sees it.
    private volatile VirtqueueException failure;

    DeviceQueueBase(IovaMemory memory, int size, long features) {
        this.memory = memory;
        this.size = size;
        this.features = features;
        this.indirect = new IndirectTable(memory, size);
    }

    @Override
    public final int size() {
        return size;
    }

    @Override
    public final DescriptorChain newChain() {
        return new DescriptorChain(this, memory, size);
    }

    @Override
    public final VirtqueueException failure() {
        return failure;
    }

    /** Slices the ring areas from the memory (at construction and on {@link #remap()}). */
    abstract void sliceRings();

    @Override
    public final void remap() {
        checkNotBroken();
        try {
            sliceRings();
        } catch (VirtqueueException e) {
            throw fail(e);
        }
    }

    /** Breaks the queue with {@code e} unless it is broken already; returns {@code e} to throw. */
    final VirtqueueException fail(VirtqueueException e) {
        if (failure == null) {
            failure = e;
        }
        return e;
    }

    final void clearFailure() {
        failure = null;
    }

    /** Breaks the queue with {@code e} even if it was broken before: a reset to a bad state. */
    final VirtqueueException replaceFailure(VirtqueueException e) {
        failure = e;
        return e;
    }

    final void checkNotBroken() {
        VirtqueueException f = failure;
        if (f != null) {
            throw f;
        }
    }

    /** The checks before {@link #resubmit}: the queue works and the chain is its own. */
    final void checkResubmittable(DescriptorChain chain) {
        checkNotBroken();
        if (chain.queue() != this) {
            throw new IllegalArgumentException("chain belongs to another queue");
        }
    }

    final void checkPushable(DescriptorChain chain, int writtenLength) {
        if (chain.queue() != this) {
            throw new IllegalArgumentException("chain belongs to another queue");
        }
        if (Integer.toUnsignedLong(writtenLength) > chain.writableLength()) {
            throw new IllegalArgumentException("used length %d exceeds the chain's %d writable bytes"
                    .formatted(Integer.toUnsignedLong(writtenLength), chain.writableLength()));
        }
    }

    static VirtqueueException setup(String what) {
        return new VirtqueueException(Reason.BAD_RING_SETUP, what);
    }

    /** Slices a ring area once, checking the alignment the ordered accesses rely on. */
    final MemorySegment ringArea(String name, long iova, long length, int alignment, Access access) {
        if ((iova & (alignment - 1)) != 0) {
            throw setup("%s at 0x%x is not %d-byte aligned".formatted(name, iova, alignment));
        }
        MemorySegment area;
        try {
            area = memory.slice(iova, length, access);
        } catch (IovaFault fault) {
            throw new VirtqueueException(Reason.IOVA_FAULT,
                    "%s at 0x%x, %d bytes: %s".formatted(name, iova, length, fault.getMessage()), fault);
        }
        if (area.maxByteAlignment() < alignment) {
            throw setup("%s at 0x%x is backed by memory aligned to %d bytes only, %d needed"
                    .formatted(name, iova, area.maxByteAlignment(), alignment));
        }
        return area;
    }

    /** Turns an access to ring memory that was unmapped under us into the typed error. */
    final VirtqueueException ringGone(IllegalStateException e) {
        return fail(new VirtqueueException(Reason.IOVA_FAULT, "ring memory invalidated while in use", e));
    }
}
