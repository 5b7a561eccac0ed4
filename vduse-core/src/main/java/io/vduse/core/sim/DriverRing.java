package io.vduse.core.sim;

import io.vduse.api.Layouts;
import io.vduse.api.virtio.SplitRing;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.iova.CoherentBuffer;
import io.vduse.iova.DmaDirection;
import io.vduse.iova.IovaDomain;
import io.vduse.virtqueue.DriverQueue;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One virtqueue of the simulated driver: its driver-side ring, and the requests in flight with
 * their streaming mappings, unmapped (and copied back) when the device returns them.
 */
final class DriverRing {

    private static final System.Logger LOG = System.getLogger(DriverRing.class.getName());

    /** A request the device has not returned yet. */
    private record Pending(CompletableFuture<Completion> done, long[] iovas, int[] lengths,
            MemorySegment[] buffers, int readable, CoherentBuffer table) {}

    private final IovaDomain domain;
    private final DriverQueue queue;
    private final boolean indirect;
    private final List<CoherentBuffer> areas;
    private final Pending[] pending;
    /** The fixed requests in flight, by chain id: a chain id is in one of the two arrays. */
    private final FixedRequest[] fixed;
    /** The fixed requests one {@link #collect} took, woken after it unlocks. */
    private final FixedRequest[] returnedFixed;
    private final MemorySegment driverArea;
    private final boolean packed;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();
    private int inFlight;
    private int strayCompletions;
    /** Used elements taken from the ring so far: the next completion's {@code usedOrder}. */
    private long collected;
    private boolean abandoned;

    DriverRing(IovaDomain domain, int size, MemorySegment desc, MemorySegment driverArea, MemorySegment deviceArea,
            long features, boolean indirect, List<CoherentBuffer> areas, boolean packed) {
        this.domain = domain;
        this.driverArea = driverArea;
        this.packed = packed;
        this.queue = DriverQueue.create(size, desc, driverArea, deviceArea, features);
        this.indirect = indirect;
        this.areas = areas;
        this.pending = new Pending[size];
        this.fixed = new FixedRequest[size];
        this.returnedFixed = new FixedRequest[size];
    }

    int size() {
        return queue.size();
    }

    /** Chains the device returned that were not in flight: completed twice, or never made available. */
    int strayCompletions() {
        lock.lock();
        try {
            return strayCompletions;
        } finally {
            lock.unlock();
        }
    }

    int inFlight() {
        lock.lock();
        try {
            return inFlight;
        } finally {
            lock.unlock();
        }
    }

    CompletableFuture<Completion> add(List<byte[]> readable, int[] writableLengths) {
        int count = readable.size() + writableLengths.length;
        if (count == 0) {
            throw new IllegalArgumentException("a request needs at least one buffer");
        }
        boolean viaTable = indirect && count > 1;
        int needed = viaTable ? 1 : count;
        if (needed > queue.size()) {
            throw new IllegalArgumentException(count + " buffers do not fit a ring of " + queue.size());
        }
        lock.lock();
        try {
            awaitRoom(needed);
            return map(readable, writableLengths, viaTable);
        } finally {
            lock.unlock();
        }
    }

    /** Makes {@code request} available, as a direct chain; allocates nothing unless it waits for room. */
    void add(FixedRequest request) {
        if (request.iovas.length > queue.size()) {
            throw new IllegalArgumentException(request.iovas.length + " buffers do not fit a ring of " + queue.size());
        }
        lock.lock();
        try {
            awaitRoom(request.iovas.length);
            request.submitted();
            int id = queue.add(request.iovas, request.lengths, request.readable, request.writable);
            if (id < 0) {
                request.abandon();
                throw new IllegalStateException("no free descriptor although the ring said it had room");
            }
            fixed[id] = request;
            inFlight++;
        } finally {
            lock.unlock();
        }
    }

    /** Waits, holding the lock, until {@code needed} descriptors are free. */
    private void awaitRoom(int needed) {
        long waitNanos = SimulatedDriver.FULL_RING_WAIT.toNanos();
        try {
            while (queue.freeDescriptors() < needed) {
                if (abandoned) {
                    throw new IllegalStateException("the ring was abandoned");
                }
                if (waitNanos <= 0) {
                    throw new IllegalStateException("the ring stayed full for " + SimulatedDriver.FULL_RING_WAIT);
                }
                waitNanos = room.awaitNanos(waitNanos);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for room in the ring", e);
        }
    }

    private CompletableFuture<Completion> map(List<byte[]> readable, int[] writableLengths, boolean viaTable) {
        int count = readable.size() + writableLengths.length;
        long[] iovas = new long[count];
        int[] lengths = new int[count];
        MemorySegment[] buffers = new MemorySegment[count];
        for (int i = 0; i < count; i++) {
            boolean isReadable = i < readable.size();
            int length = isReadable ? readable.get(i).length : writableLengths[i - readable.size()];
            if (length <= 0) {
                throw new IllegalArgumentException("buffer " + i + " is empty");
            }
            // The driver's buffers live on the heap: the bounce map copies them to and from IOVA
            // space, so they need not be native. (They were in a shared arena per request, and
            // closing a shared arena is a handshake with every thread of the JVM, the device's
            // queue worker included: vduse-bench's SimulatedBlockBenchmark ran 2 to 18 times
            // slower for it.)
            MemorySegment buffer = MemorySegment.ofArray(new byte[length]);
            if (isReadable) {
                MemorySegment.copy(readable.get(i), 0, buffer, Layouts.U8, 0, length);
            }
            buffers[i] = buffer;
            lengths[i] = length;
            iovas[i] = domain.mapPage(buffer, isReadable ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE);
        }
        CoherentBuffer table = null;
        int id;
        if (viaTable) {
            table = domain.allocCoherent(16L * count);
            id = queue.addIndirect(iovas, lengths, readable.size(), writableLengths.length, table.iova(),
                    table.memory());
        } else {
            id = queue.add(iovas, lengths, readable.size(), writableLengths.length);
        }
        if (id < 0) {
            throw new IllegalStateException("no free descriptor although the ring said it had room");
        }
        CompletableFuture<Completion> done = new CompletableFuture<>();
        pending[id] = new Pending(done, iovas, lengths, buffers, readable.size(), table);
        inFlight++;
        return done;
    }

    boolean kickPrepare() {
        lock.lock();
        try {
            return queue.kickPrepare();
        } finally {
            lock.unlock();
        }
    }

    /** Moves the split ring's available index more than a ring's length ahead. */
    void corruptAvailIndex() {
        if (packed) {
            throw new UnsupportedOperationException("a packed ring has no available index");
        }
        lock.lock();
        try {
            int idx = Short.toUnsignedInt(driverArea.get(Layouts.LE16, SplitRing.AVAIL_IDX));
            driverArea.set(Layouts.LE16, SplitRing.AVAIL_IDX, (short) (idx + queue.size() + 1));
        } finally {
            lock.unlock();
        }
    }

    /** Takes every used chain the device returned, after an interrupt. */
    void collect() {
        int returned = 0;
        lock.lock();
        try {
            if (abandoned) {
                return;
            }
            try {
                do {
                    for (int id; (id = queue.pollUsed()) >= 0; ) {
                        if (complete(id, queue.usedLength())) {
                            returnedFixed[returned++] = fixed[id];
                            fixed[id] = null;
                        }
                    }
                } while (queue.enableInterrupts());
            } catch (IllegalStateException e) {
                // A packed ring's used descriptor with a buffer id not in flight: as Linux's
                // virtio_ring does ("id is not a head"), the driver gives the ring up.
                strayCompletions++;
                LOG.log(Level.ERROR, "the device broke the ring: {0}", e.getMessage());
                abandon("the device returned a buffer that is not in flight: " + e.getMessage());
                // On: the fixed requests collected before the stray one did complete.
            }
            room.signalAll();
        } finally {
            lock.unlock();
        }
        // Woken after the lock is free: a waiter that sends its request again at once then takes
        // the lock without a contended acquire (which allocates a queue node).
        for (int i = 0; i < returned; i++) {
            returnedFixed[i].wake();
            returnedFixed[i] = null;
        }
    }

    /** Completes chain {@code id}; true if it is a fixed request, to be woken once the lock is free. */
    private boolean complete(int id, int usedLength) {
        long order = collected++;
        FixedRequest f = id < fixed.length ? fixed[id] : null;
        if (f != null) {
            inFlight--;
            f.returned(usedLength);
            return true;
        }
        Pending p = id < pending.length ? pending[id] : null;
        if (p == null) {
            strayCompletions++;
            LOG.log(Level.ERROR, "the device returned chain {0}, which is not in flight", id);
            return false;
        }
        pending[id] = null;
        inFlight--;
        List<byte[]> written = new ArrayList<>();
        for (int i = 0; i < p.iovas().length; i++) {
            boolean isReadable = i < p.readable();
            domain.unmapPage(p.iovas()[i], p.lengths()[i], isReadable ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE);
            if (!isReadable) {
                written.add(p.buffers()[i].toArray(Layouts.U8));
            }
        }
        if (p.table() != null) {
            domain.freeCoherent(p.table());
        }
        p.done().complete(new Completion(usedLength, written, order));
        return false;
    }

    /** Fails every request in flight and gives the ring's memory back; the ring is unusable after. */
    void abandon(String reason) {
        lock.lock();
        try {
            if (abandoned) {
                return;
            }
            abandoned = true;
            for (int id = 0; id < pending.length; id++) {
                Pending p = pending[id];
                if (p == null) {
                    continue;
                }
                pending[id] = null;
                for (int i = 0; i < p.iovas().length; i++) {
                    domain.unmapPage(p.iovas()[i], p.lengths()[i],
                            i < p.readable() ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE);
                }
                if (p.table() != null) {
                    domain.freeCoherent(p.table());
                }
                p.done().completeExceptionally(new IllegalStateException("request abandoned: " + reason));
            }
            for (int id = 0; id < fixed.length; id++) {
                if (fixed[id] != null) {
                    fixed[id].abandon();
                    fixed[id] = null;
                }
            }
            inFlight = 0;
            for (CoherentBuffer area : areas) {
                domain.freeCoherent(area);
            }
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until nothing is in flight, at most {@code millis}; whether that happened. */
    boolean awaitIdle(long millis) throws InterruptedException {
        lock.lock();
        try {
            long nanos = TimeUnit.MILLISECONDS.toNanos(millis);
            while (inFlight > 0 && nanos > 0) {
                nanos = room.awaitNanos(nanos);
            }
            return inFlight == 0;
        } finally {
            lock.unlock();
        }
    }

    /** The ring's areas: descriptors, driver area, device area. */
    List<CoherentBuffer> areas() {
        return areas;
    }

    /** The IOVA of area {@code index} of {@link #areas()}. */
    long areaIova(int index) {
        return areas.get(index).iova();
    }
}
