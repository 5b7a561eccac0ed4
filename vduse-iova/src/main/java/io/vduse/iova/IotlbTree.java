package io.vduse.iova;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * A map from non-overlapping inclusive ranges {@code [start, last]} of the unsigned 64-bit IOVA
 * space to a payload: the data structure of the kernel's {@code vhost_iotlb}.
 *
 * <p>The kernel needs an augmented interval tree because its IOTLB may hold overlapping ranges;
 * this one refuses overlaps on {@link #insert}, so entries sorted by start are also sorted by
 * last, and a red-black tree keyed by start answers every query in O(log n): the entry holding
 * an address is the one with the greatest start not above it. Keys compare unsigned, so
 * addresses at and above 2^63 sort after the rest, and {@code last = -1L} (2^64 - 1) is allowed.
 *
 * <p>Not thread-safe: the owner locks, as the kernel holds its IOTLB spinlock.
 *
 * @param <T> the payload of an entry
 */
public final class IotlbTree<T> {

    /**
     * One entry: the range {@code [start, last]} and its payload.
     *
     * @param start first address, unsigned
     * @param last last address, unsigned, not below {@code start}
     * @param value the payload
     * @param <T> the payload type
     */
    public record Entry<T>(long start, long last, T value) {

        /** Checks the range and the payload. */
        public Entry {
            Ranges.checkRange(start, last);
            Objects.requireNonNull(value, "value");
        }

        /** Whether {@code iova} lies in this entry's range. */
        public boolean contains(long iova) {
            return Ranges.contains(start, last, iova);
        }

        @Override
        public String toString() {
            return "[0x%x, 0x%x] -> %s".formatted(start, last, value);
        }
    }

    /**
     * How the payload of an entry changes when the entry is cut and a piece of it starts later
     * than the entry did: for a payload holding a file offset, the piece's offset moves by the
     * same amount.
     *
     * @param <T> the payload type
     */
    @FunctionalInterface
    public interface Splitter<T> {

        /**
         * The payload of the piece that starts {@code skipped} bytes after the start of an entry
         * with payload {@code value}; {@code skipped} is positive.
         */
        T tail(T value, long skipped);
    }

    private final NavigableMap<Long, Entry<T>> byStart = new TreeMap<>(Long::compareUnsigned);

    /** Creates an empty tree. */
    public IotlbTree() {}

    /**
     * Adds {@code [start, last] -> value}.
     *
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     * @throws IotlbOverlapException if an entry already holds one of the addresses
     */
    public void insert(long start, long last, T value) {
        Entry<T> entry = new Entry<>(start, last, value);
        Entry<T> inTheWay = firstOrNull(start, last);
        if (inTheWay != null) {
            throw new IotlbOverlapException(start, last, inTheWay.start(), inTheWay.last());
        }
        byStart.put(start, entry);
    }

    /** The entry holding {@code iova}, if any. O(log n). */
    public Optional<Entry<T>> find(long iova) {
        return Optional.ofNullable(holding(iova));
    }

    /**
     * The entry with the lowest addresses among those overlapping {@code [start, last]}: what
     * {@code vhost_iotlb_itree_first} answers, and so what {@code VDUSE_IOTLB_GET_FD} reports.
     *
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     */
    public Optional<Entry<T>> first(long start, long last) {
        Ranges.checkRange(start, last);
        return Optional.ofNullable(firstOrNull(start, last));
    }

    /**
     * The entries overlapping {@code [start, last]}, in address order.
     *
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     */
    public List<Entry<T>> overlapping(long start, long last) {
        List<Entry<T>> result = new ArrayList<>();
        forEachOverlapping(start, last, result::add);
        return result;
    }

    /**
     * Passes each entry overlapping {@code [start, last]} to {@code action}, in address order.
     * The action must not change the tree.
     *
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     */
    public void forEachOverlapping(long start, long last, Consumer<? super Entry<T>> action) {
        Ranges.checkRange(start, last);
        Entry<T> first = firstOrNull(start, last);
        if (first == null) {
            return;
        }
        // Entries are disjoint and sorted, so the overlapping ones are a run of consecutive
        // keys from the first one up to the last start not above `last`.
        for (Entry<T> entry : byStart.subMap(first.start(), true, last, true).values()) {
            action.accept(entry);
        }
    }

    /**
     * Removes every entry overlapping {@code [start, last]} whole, including the parts outside
     * the range, and returns them in address order. This is what the kernel's
     * {@code vhost_iotlb_del_range} does (it never splits an entry), and what
     * {@code VDUSE_UPDATE_IOTLB} asks of a device's cache.
     *
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     */
    public List<Entry<T>> removeOverlapping(long start, long last) {
        List<Entry<T>> removed = overlapping(start, last);
        for (Entry<T> entry : removed) {
            byStart.remove(entry.start());
        }
        return removed;
    }

    /**
     * Unmaps exactly {@code [start, last]}: entries inside it are removed, and an entry it cuts
     * is trimmed, or split in two when the range lies strictly inside it, so that addresses
     * outside the range stay mapped as before. Returns the removed pieces in address order.
     *
     * <p>A piece that starts later than its entry gets the payload {@code splitter} computes; a
     * piece that starts with its entry keeps the payload.
     *
     * @throws IllegalArgumentException if {@code last} is below {@code start}
     */
    public List<Entry<T>> removeRange(long start, long last, Splitter<T> splitter) {
        Objects.requireNonNull(splitter, "splitter");
        List<Entry<T>> cut = removeOverlapping(start, last);
        List<Entry<T>> removed = new ArrayList<>(cut.size());
        for (Entry<T> entry : cut) {
            long holeStart = Ranges.max(entry.start(), start);
            long holeLast = Ranges.min(entry.last(), last);
            if (Long.compareUnsigned(entry.start(), holeStart) < 0) {
                // The head keeps its start, so it keeps its payload.
                byStart.put(entry.start(), new Entry<>(entry.start(), holeStart - 1, entry.value()));
            }
            if (Long.compareUnsigned(holeLast, entry.last()) < 0) {
                // holeLast < entry.last() <= 2^64 - 1, so holeLast + 1 does not wrap.
                long tailStart = holeLast + 1;
                byStart.put(tailStart, new Entry<>(tailStart, entry.last(),
                        splitter.tail(entry.value(), tailStart - entry.start())));
            }
            removed.add(new Entry<>(holeStart, holeLast, holeStart == entry.start()
                    ? entry.value()
                    : splitter.tail(entry.value(), holeStart - entry.start())));
        }
        return removed;
    }

    /** Removes every entry. */
    public void clear() {
        byStart.clear();
    }

    /** The number of entries. */
    public int size() {
        return byStart.size();
    }

    /** Whether there is no entry. */
    public boolean isEmpty() {
        return byStart.isEmpty();
    }

    /** All entries in address order, as a copy. */
    public List<Entry<T>> entries() {
        return List.copyOf(byStart.values());
    }

    private Entry<T> holding(long iova) {
        Map.Entry<Long, Entry<T>> floor = byStart.floorEntry(iova);
        if (floor == null) {
            return null;
        }
        Entry<T> entry = floor.getValue();
        return entry.contains(iova) ? entry : null;
    }

    private Entry<T> firstOrNull(long start, long last) {
        // An entry starting below `start` overlaps only if it holds `start`; otherwise the
        // first candidate is the lowest entry starting at or after `start`.
        Entry<T> below = holding(start);
        if (below != null) {
            return below;
        }
        Map.Entry<Long, Entry<T>> next = byStart.ceilingEntry(start);
        if (next == null || Long.compareUnsigned(next.getKey(), last) > 0) {
            return null;
        }
        return next.getValue();
    }

    @Override
    public String toString() {
        Iterator<Entry<T>> it = byStart.values().iterator();
        StringBuilder s = new StringBuilder("IotlbTree{");
        while (it.hasNext()) {
            s.append(it.next());
            if (it.hasNext()) {
                s.append(", ");
            }
        }
        return s.append('}').toString();
    }
}
