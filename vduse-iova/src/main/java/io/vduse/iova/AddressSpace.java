package io.vduse.iova;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The device's IOTLB cache: turns IOVAs into memory, fetching what it lacks from a
 * {@link MappingSource} ({@code VDUSE_IOTLB_GET_FD} + {@code mmap}) and dropping what the kernel
 * invalidates ({@code VDUSE_UPDATE_IOTLB}).
 *
 * <h2>Concurrency</h2>
 * Queue threads translate while the message thread invalidates. The cached mappings are an
 * immutable snapshot, sorted arrays of starts, lasts and mappings, that a translation reads
 * without a lock and searches without allocating: a per-page hint, else a bucket index and a
 * binary search among the bucket's few candidates (O(log n) at worst). A miss, an invalidation
 * and {@link #close} take a lock, build a new snapshot and publish it; misses therefore serialize,
 * which is what the kernel does with {@code GET_FD} anyway. Hand the address space to queue
 * threads safely (before starting them, or through a concurrent structure): the first snapshot
 * is a plain field write of the constructor.
 *
 * <h2>Released mappings</h2>
 * Memory goes away only in {@link #invalidate}, {@link #invalidateAll} and {@link #close}: the
 * points where a device holds its queues between passes, so that no queue is using raw addresses
 * of a mapping (I/O vectors handed to {@code preadv}) when it is unmapped. A mapping that a miss
 * finds stale (overlapped by the source's fresh answer) leaves the snapshot at once but is
 * released only at the next of those points, which the kernel's {@code VDUSE_UPDATE_IOTLB} for
 * the changed range brings soon: another queue may be in the middle of a request on it.
 *
 * <p>An invalidated mapping leaves the snapshot first, then goes back to the source, which (per
 * the {@link MappingSource} contract) closes its shared arena before unmapping. A queue thread
 * that took the mapping from the old snapshot and touches it after that gets an
 * {@link IllegalStateException} from the memory access: the caller treats that like a fault
 * (fail the request, or translate again), never as a crash. {@link #invalidate} returns only
 * after every mapping it dropped is released, so the device can answer the kernel's message
 * knowing the old memory is gone.
 *
 * <h2>Permissions</h2>
 * Every translation checks the requested access against the entry's permission before any
 * memory is touched: a write through a {@code PROT_READ} mapping would kill the JVM. As a second
 * line, a {@link Access#READ} mapping is handed out with a read-only view of its memory, so even
 * code that skipped the check cannot write it (a write throws {@link IllegalArgumentException}
 * from the segment).
 */
public final class AddressSpace implements IovaMemory, AutoCloseable {

    /**
     * The cached mappings, sorted by start; never modified once published, except for
     * {@link #hints}, a cache of search results that any thread may overwrite at any time.
     */
    private static final class Snapshot {

        /** Hint pages are at least 4 KiB (a page of IOVA space) ... */
        private static final int MIN_HINT_SHIFT = 12;
        /** ... and at most 1 GiB. */
        private static final int MAX_HINT_SHIFT = 30;
        private static final int MAX_HINTS = 4096;
        /** The most buckets of the search index. */
        private static final int MAX_BUCKETS = 8192;

        static final Snapshot EMPTY = new Snapshot(new long[0], new long[0], new Mapping[0], new Mapping[0]);

        final long[] starts;
        final long[] lasts;
        /** What translations hand out: read-only views for read-only entries. */
        final Mapping[] mappings;
        /** What the source returned, index for index: what goes back on release. */
        final Mapping[] resolved;
        /**
         * log2 of the hint page: the largest power of two no bigger than the smallest mapping,
         * within 4 KiB to 1 GiB. Where the smallest mapping is at least 4 KiB, a hint page then
         * holds pieces of at most two mappings, so two
         * addresses of one page rarely need different hints, while large mappings (guest memory,
         * a bounce region) need few slots: 256 mappings of 1 MiB looked up at random hit their
         * hints as often as 256 pages do.
         */
        final int hintShift;
        /**
         * A direct-mapped software TLB: slot {@code (iova >>> hintShift) & (length - 1)} holds 1 +
         * the index of the mapping that last held an address of that hint page, or 0. Written by translating
         * threads without synchronization: a racy read sees 0 or some index that was right for
         * some page of this snapshot, and every hint is checked against {@link #starts} and
         * {@link #lasts} before use, so a stale or torn-between-threads hint costs a search,
         * never a wrong answer. A new snapshot starts with no hints, so none outlives an
         * invalidation.
         */
        final int[] hints;
        /**
         * The search index: the span from the first start to the last last cut into equal
         * buckets of 2^{@link #bucketShift} bytes, two to four per mapping (at most 8192, and no
         * smaller than a byte); {@code firstHolder[b]}
         * is the first mapping whose last is at or above bucket {@code b}'s start, and the
         * array ends with the mapping count. A mapping holding an address of bucket {@code b} is
         * one of {@code firstHolder[b]} to {@code firstHolder[b + 1]}: when the mappings are
         * spread evenly that is one or two, whatever their number.
         */
        final int[] firstHolder;
        final int bucketShift;
        /** The first start, and the bytes from it to the last last, unsigned: the indexed span. */
        final long base;
        final long span;

        Snapshot(long[] starts, long[] lasts, Mapping[] mappings, Mapping[] resolved) {
            this.starts = starts;
            this.lasts = lasts;
            this.mappings = mappings;
            this.resolved = resolved;
            // About four slots per mapping, a power of two from 16 to MAX_HINTS.
            this.hints = new int[Math.max(16, Integer.highestOneBit(Math.min(MAX_HINTS, 4 * starts.length)))];
            long smallest = -1L; // unsigned: a mapping of all 2^64 bytes has size 0 here, the largest
            for (int i = 0; i < starts.length; i++) {
                long size = lasts[i] - starts[i] + 1;
                if (size != 0 && Long.compareUnsigned(size, smallest) < 0) {
                    smallest = size;
                }
            }
            this.hintShift = Math.clamp(63 - Long.numberOfLeadingZeros(smallest), MIN_HINT_SHIFT, MAX_HINT_SHIFT);
            int n = starts.length;
            if (n == 0) {
                this.bucketShift = 0;
                this.base = 0;
                this.span = 0;
                this.firstHolder = new int[] {0};
                return;
            }
            this.base = starts[0];
            this.span = lasts[n - 1] - base; // unsigned, up to 2^64 - 1
            int buckets = Math.min(MAX_BUCKETS, Integer.highestOneBit(2 * n) * 2);
            int shift = 0;
            while (Long.compareUnsigned(span >>> shift, buckets) >= 0) {
                shift++;
            }
            this.bucketShift = shift;
            int used = (int) (span >>> shift) + 1; // buckets that hold some of the span
            this.firstHolder = new int[used + 1];
            int i = 0;
            for (int b = 0; b < used; b++) {
                long bucketStart = base + ((long) b << shift);
                while (i < n && Long.compareUnsigned(lasts[i], bucketStart) < 0) {
                    i++;
                }
                firstHolder[b] = i;
            }
            firstHolder[used] = n;
        }

        /**
         * The index of the mapping holding {@code iova}, or -1. No allocation, no lock: a hint
         * hit costs one array slot and two compares, otherwise a {@link #search}.
         */
        int indexOf(long iova) {
            int[] h = hints;
            int slot = (int) (iova >>> hintShift) & (h.length - 1);
            int i = h[slot] - 1;
            if (i >= 0 && Long.compareUnsigned(starts[i], iova) <= 0 && Long.compareUnsigned(iova, lasts[i]) <= 0) {
                return i;
            }
            i = search(iova);
            if (i >= 0) {
                h[slot] = i + 1;
            }
            return i;
        }

        /**
         * The index of the mapping holding {@code iova}, or -1, by search: the bucket of the
         * address gives the few candidates (see {@link #firstHolder}), then a binary search among
         * them finds the one whose start is the greatest not above the address.
         */
        int search(long iova) {
            int n = starts.length;
            long offset = iova - base;
            // Below the first start wraps to above the span too.
            if (n == 0 || Long.compareUnsigned(offset, span) > 0) {
                return -1;
            }
            int bucket = (int) (offset >>> bucketShift);
            int from = firstHolder[bucket];
            int to = Math.min(firstHolder[bucket + 1], n - 1);
            return searchAmong(iova, from, to - from + 1);
        }

        /**
         * The index of the mapping holding {@code iova} among the {@code count} from {@code from},
         * or -1, if it is among them.
         *
         * <p>Branch-free binary search: the loop runs log2(count) times whatever the address, and
         * the step that halves the range is arithmetic rather than a branch. Lookups land on
         * unrelated entries one after the other (every buffer of every chain), so a branching
         * search mispredicts about half its steps. (A {@code cond ? a : b} step is not enough:
         * C2 turns it into a conditional move or a branch depending on the profile, and with a
         * branch a hit among 256 entries ran at a third of the speed; see vduse-bench,
         * IotlbBenchmark.)
         */
        private int searchAmong(long iova, int from, int count) {
            long[] s = starts;
            int n = count;
            // Invariant: if any start is <= iova, the greatest such is at base .. base + n - 1.
            int base = from;
            while (n > 1) {
                int half = n >>> 1;
                // above = 1 if s[base + half] > iova, unsigned: the borrow out of iova - start.
                long start = s[base + half];
                long above = ((~iova & start) | (~(iova ^ start) & (iova - start))) >>> 63;
                base += half & ((int) above - 1);
                n -= half;
            }
            // Mappings are disjoint, so only the greatest start not above iova can hold it.
            return Long.compareUnsigned(s[base], iova) <= 0 && Long.compareUnsigned(iova, lasts[base]) <= 0
                    ? base : -1;
        }

        int size() {
            return starts.length;
        }

        /**
         * This snapshot without the mappings overlapping {@code [start, last]}, whose source
         * mappings are added to {@code dropped}.
         */
        Snapshot without(long start, long last, List<Mapping> dropped) {
            int kept = 0;
            for (int i = 0; i < size(); i++) {
                if (!Ranges.overlaps(starts[i], lasts[i], start, last)) {
                    kept++;
                }
            }
            if (kept == size()) {
                return this;
            }
            Builder b = new Builder(kept);
            for (int i = 0; i < size(); i++) {
                if (Ranges.overlaps(starts[i], lasts[i], start, last)) {
                    dropped.add(resolved[i]);
                } else {
                    b.add(mappings[i], resolved[i]);
                }
            }
            return b.build();
        }

        /** This snapshot plus {@code mapping}, which overlaps none of it, in order. */
        Snapshot with(Mapping mapping, Mapping source) {
            Builder b = new Builder(size() + 1);
            boolean placed = false;
            for (int i = 0; i < size(); i++) {
                if (!placed && Long.compareUnsigned(mapping.start(), starts[i]) < 0) {
                    b.add(mapping, source);
                    placed = true;
                }
                b.add(mappings[i], resolved[i]);
            }
            if (!placed) {
                b.add(mapping, source);
            }
            return b.build();
        }
    }

    /** Fills the arrays of a new snapshot in order. */
    private static final class Builder {
        private final long[] starts;
        private final long[] lasts;
        private final Mapping[] mappings;
        private final Mapping[] resolved;
        private int n;

        Builder(int size) {
            starts = new long[size];
            lasts = new long[size];
            mappings = new Mapping[size];
            resolved = new Mapping[size];
        }

        void add(Mapping mapping, Mapping source) {
            starts[n] = mapping.start();
            lasts[n] = mapping.last();
            mappings[n] = mapping;
            resolved[n] = source;
            n++;
        }

        Snapshot build() {
            return new Snapshot(starts, lasts, mappings, resolved);
        }
    }

    private static final VarHandle SNAPSHOT;

    static {
        try {
            SNAPSHOT = MethodHandles.lookup().findVarHandle(AddressSpace.class, "snapshot", Snapshot.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final MappingSource source;
    /** Serializes misses, invalidations and close: the writers of {@link #snapshot}. */
    private final ReentrantLock lock = new ReentrantLock();
    /** Read with getAcquire by translations, written with setRelease under {@link #lock}. */
    @SuppressWarnings("unused") // accessed through SNAPSHOT
    private Snapshot snapshot = Snapshot.EMPTY;
    /** Guarded by {@link #lock}. */
    private boolean closed;
    /** Stale mappings a miss displaced, to release at the next invalidation; guarded by {@link #lock}. */
    private final List<Mapping> displaced = new ArrayList<>();

    /** Creates an empty cache over {@code source}. */
    public AddressSpace(MappingSource source) {
        this.source = Objects.requireNonNull(source, "source");
    }

    /**
     * The mapping holding {@code iova}, which must allow {@code access}. A cached mapping costs a
     * hint or a short search: no lock, no allocation. A miss asks the source, under the lock.
     *
     * @throws IovaFault {@link IovaFault.Reason#UNMAPPED} if the source maps nothing there,
     *     {@link IovaFault.Reason#PERMISSION} if the mapping lacks the access
     * @throws IllegalStateException if the address space is closed, or the source returned a
     *     mapping that does not hold {@code iova}
     */
    @Override
    public Mapping mapping(long iova, Access access) {
        // Acquire pairs with the release in publish(): having seen a snapshot, this thread sees
        // its arrays filled and the Mapping objects (and segments) they point to fully built.
        // A plain read could, on a weakly ordered CPU, see the new reference but stale array
        // slots: a null mapping or a start that does not match its memory.
        Snapshot current = (Snapshot) SNAPSHOT.getAcquire(this);
        int i = current.indexOf(iova);
        Mapping mapping = i >= 0 ? current.mappings[i] : miss(iova, access);
        if (!mapping.access().allows(access)) {
            throw new IovaFault(IovaFault.Reason.PERMISSION, iova, 0, access);
        }
        return mapping;
    }

    /**
     * Drops every cached mapping overlapping {@code [start, last]}, whole, and releases it to the
     * source before returning, together with every mapping a miss displaced since the last
     * invalidation; the next translation of those addresses asks the source again. What
     * {@code VDUSE_UPDATE_IOTLB} asks of the device, with its queues held between passes.
     *
     * @return how many mappings were released: 0 means that no memory went away, so what was
     *     translated before (a ring's areas, say) is still good
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     * @throws RuntimeException the first failure of the source to release a mapping, after all
     *     were tried (later failures are suppressed into it)
     */
    public int invalidate(long start, long last) {
        List<Mapping> dropped = new ArrayList<>();
        retire(start, last, dropped::add);
        // Only now, with no new translation able to find them, may they go away.
        releaseAll(dropped);
        return dropped.size();
    }

    /**
     * Drops every cached mapping overlapping {@code [start, last]} as {@link #invalidate} does,
     * together with every mapping a miss displaced, but hands them to {@code retired} instead of
     * releasing them: for a device with requests in flight on that memory (I/O vectors in a
     * system call), which releases each with {@link #release(Mapping)} once the last request
     * using it has completed. No new translation finds them once this returns.
     *
     * @return how many mappings were handed over
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     */
    public int retire(long start, long last, Consumer<Mapping> retired) {
        Ranges.checkRange(start, last);
        Objects.requireNonNull(retired, "retired");
        List<Mapping> dropped = new ArrayList<>();
        lock.lock();
        try {
            Snapshot current = (Snapshot) SNAPSHOT.get(this);
            publish(current.without(start, last, dropped));
            dropped.addAll(displaced);
            displaced.clear();
        } finally {
            lock.unlock();
        }
        dropped.forEach(retired);
        return dropped.size();
    }

    /**
     * Releases a mapping that {@link #retire} handed over back to the source; at most once per
     * mapping. Not under the address space's lock (closing a mapping's arena waits for every
     * thread, and translations must not wait for that): the source must take a release
     * concurrent with a {@link MappingSource#resolve}, as vduse-core's does.
     */
    public void release(Mapping mapping) {
        source.release(mapping);
    }

    /**
     * Drops and releases every cached mapping, as {@code invalidate(0, 2^64 - 1)}.
     *
     * @return how many mappings were released
     */
    public int invalidateAll() {
        return invalidate(0, -1L);
    }

    /** The cached mappings in address order, as handed out; a copy, for diagnostics and tests. */
    public List<Mapping> cachedMappings() {
        // Acquire, as in mapping(): the copy must see the snapshot's slots filled.
        return List.of(((Snapshot) SNAPSHOT.getAcquire(this)).mappings);
    }

    /**
     * Releases every cached mapping; translations fail with {@link IllegalStateException}
     * afterwards. Idempotent.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            lock.unlock();
        }
        invalidateAll();
    }

    private Mapping miss(long iova, Access access) {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("address space closed");
            }
            // Under the lock no one else publishes, so a plain read sees the latest snapshot.
            Snapshot current = (Snapshot) SNAPSHOT.get(this);
            int i = current.indexOf(iova);
            if (i >= 0) {
                // Another thread missed on the same mapping first and resolved it.
                return current.mappings[i];
            }
            Mapping resolved = source.resolve(iova).orElseThrow(
                    () -> new IovaFault(IovaFault.Reason.UNMAPPED, iova, 0, access));
            if (!resolved.contains(iova)) {
                source.release(resolved);
                throw new IllegalStateException("mapping source answered IOVA 0x%x with [0x%x, 0x%x]"
                        .formatted(iova, resolved.start(), resolved.last()));
            }
            Mapping handedOut = resolved.access() == Access.READ && !resolved.memory().isReadOnly()
                    ? new Mapping(resolved.start(), resolved.last(), Access.READ, resolved.memory().asReadOnly())
                    : resolved;
            // A cached mapping overlapping the new one is stale: the kernel changed that range
            // and its UPDATE_IOTLB has not been handled yet. The fresh answer wins, but the stale
            // mapping stays mapped until the next invalidation: this thread is one queue, and
            // another may be reading or writing it (with raw addresses, in a system call) now.
            publish(current.without(resolved.start(), resolved.last(), displaced).with(handedOut, resolved));
            return handedOut;
        } finally {
            lock.unlock();
        }
    }

    /** Makes {@code next} the snapshot translations see. Called under {@link #lock}. */
    private void publish(Snapshot next) {
        // Release: the arrays and mappings of `next`, written by this thread just before, are
        // visible to any thread whose getAcquire in mapping() reads `next`.
        SNAPSHOT.setRelease(this, next);
    }

    private void releaseAll(List<Mapping> mappings) {
        RuntimeException failure = null;
        for (Mapping m : mappings) {
            try {
                source.release(m);
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        Snapshot current = (Snapshot) SNAPSHOT.getAcquire(this);
        return "AddressSpace" + Arrays.toString(current.mappings);
    }
}
