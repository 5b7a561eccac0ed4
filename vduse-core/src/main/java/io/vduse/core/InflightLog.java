package io.vduse.core;

import static io.vduse.core.InflightLayout.AVAIL_OFFSET;
import static io.vduse.core.InflightLayout.CAPACITY_OFFSET;
import static io.vduse.core.InflightLayout.CELL_NEXT;
import static io.vduse.core.InflightLayout.CELL_SIZE;
import static io.vduse.core.InflightLayout.COMMITTED_OFFSET;
import static io.vduse.core.InflightLayout.DESC_ADDR_OFFSET;
import static io.vduse.core.InflightLayout.DEVICE_ADDR_OFFSET;
import static io.vduse.core.InflightLayout.DRIVER_ADDR_OFFSET;
import static io.vduse.core.InflightLayout.ENTRY_COUNTER;
import static io.vduse.core.InflightLayout.ENTRY_FIRST_CELL;
import static io.vduse.core.InflightLayout.ENTRY_SLOTS;
import static io.vduse.core.InflightLayout.FREE;
import static io.vduse.core.InflightLayout.IN_FLIGHT;
import static io.vduse.core.InflightLayout.LAYOUT_OFFSET;
import static io.vduse.core.InflightLayout.LAYOUT_PACKED;
import static io.vduse.core.InflightLayout.LAYOUT_SPLIT;
import static io.vduse.core.InflightLayout.MAGIC;
import static io.vduse.core.InflightLayout.MAGIC_OFFSET;
import static io.vduse.core.InflightLayout.PENDING_OFFSET;
import static io.vduse.core.InflightLayout.PUSHED;
import static io.vduse.core.InflightLayout.RING_SIZE_OFFSET;
import static io.vduse.core.InflightLayout.VERSION;
import static io.vduse.core.InflightLayout.VERSION_OFFSET;
import static io.vduse.core.InflightLayout.cell;
import static io.vduse.core.InflightLayout.entry;
import static io.vduse.core.InflightLayout.lpI32;
import static io.vduse.core.InflightLayout.lpI64;
import static io.vduse.core.InflightLayout.lpState;
import static io.vduse.core.InflightLayout.lpU16;
import static io.vduse.core.InflightLayout.soI64;
import static io.vduse.core.InflightLayout.soState;
import static io.vduse.core.InflightLayout.spI32;
import static io.vduse.core.InflightLayout.spI64;
import static io.vduse.core.InflightLayout.spState;
import static io.vduse.core.InflightLayout.spU16;

import io.vduse.api.Layouts;
import io.vduse.api.VduseVqInfo;
import io.vduse.api.VqState;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.iova.Access;
import io.vduse.iova.IovaMemory;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.VirtqueueException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;

/**
 * One queue's in-flight log: a file mapped shared ({@link InflightLayout}) that says, at every
 * instant, which requests the driver made available and the device has not returned, so that a
 * process taking the device over after a {@code SIGKILL} serves each of them again, none twice,
 * whatever order requests completed in, on split and packed rings.
 *
 * <p>The queue's thread alone writes it, around the ring's own steps, which is why {@link #pop},
 * {@link #push} and {@link #publish} wrap those of the ring:
 * <ul>
 *   <li>pop: the chain's entry (its position as counter, its slots, on a packed ring copies of
 *       its ring descriptors) is written, then marked in flight, before the handler sees it;
 *   <li>push: the used element goes to the ring and the entry is marked pushed;
 *   <li>publish: the avail position, then the batch's target used position (pending) are
 *       recorded; the ring publishes; the batch's entries are cleared; the used position is
 *       committed.
 * </ul>
 *
 * <p>On recovery ({@link #recover}) the one question the log cannot answer alone, whether the
 * announced batch reached the ring, is asked of the ring: a split ring's used index is either the
 * committed or the pending position; on a packed ring the batch's first used descriptor, at the
 * committed position, has its USED bit equal to that lap's wrap counter once it is published, and
 * keeps it even after the driver has consumed it and filled the slot anew (the driver can reach
 * that slot only a lap later, with the available bits of the next lap). Pushed entries of a batch
 * that reached the ring are cleared, those of one that did not are in flight again, and every
 * entry in flight is served again in counter order before anything new is popped. The avail
 * position is the highest of the recorded one and the end of the last chain in flight: every
 * chain before it was popped and is either in flight or published.
 *
 * <p>What a kill leaves: every store made before it is in the file's pages (the mapping is
 * shared), and the release stores order the ones that matter in program order against the JIT
 * and the CPU, as the ring's own release stores order what the driver sees; where each one stands
 * and what it guards against is said at the store. No {@code msync}: the log must outlive the
 * process, not the machine, and a machine that goes down takes the device and its driver with it.
 *
 * <p>A run of the queue that starts from a known state (at {@code DRIVER_OK}, on enable, after an
 * address-space switch) writes a new file and renames it over the old one, so that a thread of an
 * earlier run that was abandoned and has not yet noticed writes to the unlinked old file only.
 */
final class InflightLog {

    /** The points between the stores of the protocol; a test kills the queue thread at one. */
    enum Step {
        /** The ring popped a chain; the log knows nothing of it yet. */
        POPPED,
        /** The entry's counter, slots and cells are written; it is not marked in flight. */
        ENTRY_WRITTEN,
        /** The entry is in flight; the handler has not started. */
        MARKED_IN_FLIGHT,
        /** The used element is in the ring, not published; the entry is still in flight. */
        PUSHED_TO_RING,
        /** The entry is marked pushed. */
        MARKED_PUSHED,
        /** The avail position of the batch is recorded; the batch is not announced. */
        AVAIL_RECORDED,
        /** The batch's pending used position is recorded; the ring has not published it. */
        ANNOUNCED,
        /** The ring published the batch; its entries are not cleared. */
        PUBLISHED,
        /** One more entry of the published batch is cleared. */
        CLEARED,
        /** The batch is committed. */
        COMMITTED,
        /** Recovery settled one more pushed entry, or the batch's positions. */
        SETTLED,
        /** Recovery looked at (and maybe took back) one more packed slot past the used position. */
        SCRUBBED
    }

    /** Called at every {@link Step}; a test throws from it to model a kill there. */
    interface CrashHook {
        void at(Step step);
    }

    /** Why a log cannot be used to resume; the message says what did not fit. */
    static final class Unusable extends Exception {
        private static final long serialVersionUID = 1L;

        Unusable(String message) {
            super(message);
        }
    }

    private static final System.Logger LOG = System.getLogger(InflightLog.class.getName());

    private final Path path;
    private final MemorySegment log;
    private final int capacity;
    private final int size;
    private final boolean packed;
    private final CrashHook crash;
    private DeviceQueue ring;

    // ---- queue thread only (the message thread until the queue's thread starts) ----
    /** The position the next pop takes. */
    private long availPosition;
    /** The committed used position. */
    private long usedPosition;
    private final int[] freeCells;
    private int freeCellCount;
    /** The ids pushed since the last publish. */
    private final int[] batch;
    private int batchCount;
    private long batchSlots;
    /** Ids to serve again, in counter order, and how far the run got. */
    private int[] resubmissions = new int[0];
    private int resubmitted;
    private VqState recoveredState;
    private MemorySegment scratch;

    private InflightLog(Path path, MemorySegment log, int capacity, int size, boolean packed, CrashHook crash) {
        this.path = path;
        this.log = log;
        this.capacity = capacity;
        this.size = size;
        this.packed = packed;
        this.crash = crash;
        this.freeCells = new int[capacity];
        this.batch = new int[size];
    }

    // ---- starting ---------------------------------------------------------------------------------

    /**
     * Writes a new log at {@code path} for {@code ring}, just made from a known state with
     * nothing in flight, and puts it in place of any earlier one.
     */
    static InflightLog create(Path path, int capacity, VduseVqInfo vq, DeviceQueue ring, CrashHook crash)
            throws IOException {
        int size = ring.size();
        if (size > capacity) {
            throw new IllegalArgumentException("ring of %d in a log of %d".formatted(size, capacity));
        }
        boolean packed = ring.isPacked();
        long avail;
        long used;
        if (packed) {
            int availWord = (int) (ring.stateWord() & 0xffff);
            int usedWord = ring.usedIndex();
            avail = InflightLayout.packedPosition(availWord & 0x7fff, (availWord & 0x8000) != 0, size);
            used = InflightLayout.packedPosition(usedWord & 0x7fff, (usedWord & 0x8000) != 0, size);
            if (avail < used) {
                avail += 2L * size; // the same lap parity, one round further
            }
        } else {
            int availIdx = (int) (ring.stateWord() & 0xffff);
            used = ring.usedIndex();
            avail = used + ((availIdx - used) & 0xffff);
        }
        Path fresh = path.resolveSibling(path.getFileName() + ".new");
        Files.deleteIfExists(fresh);
        MemorySegment log = map(fresh, InflightLayout.fileSize(capacity), true);
        // A fresh file is all zeros: every entry free. The header is written before the rename
        // makes the file the log; the page cache has it from the first store on.
        spI32(log, MAGIC_OFFSET, MAGIC);
        spU16(log, VERSION_OFFSET, VERSION);
        spU16(log, LAYOUT_OFFSET, packed ? LAYOUT_PACKED : LAYOUT_SPLIT);
        spU16(log, RING_SIZE_OFFSET, size);
        spU16(log, CAPACITY_OFFSET, capacity);
        spI64(log, DESC_ADDR_OFFSET, vq.descAddr());
        spI64(log, DRIVER_ADDR_OFFSET, vq.driverAddr());
        spI64(log, DEVICE_ADDR_OFFSET, vq.deviceAddr());
        spI64(log, AVAIL_OFFSET, avail);
        spI64(log, COMMITTED_OFFSET, used);
        spI64(log, PENDING_OFFSET, used);
        Files.move(fresh, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        InflightLog created = new InflightLog(path, log, capacity, size, packed, crash);
        created.availPosition = avail;
        created.usedPosition = used;
        for (int c = capacity - 1; c >= 0; c--) {
            created.freeCells[created.freeCellCount++] = c;
        }
        created.ring = ring;
        return created;
    }

    /**
     * Reads the log a killed process left at {@code path} for the ring {@code vq} describes, as
     * its driver left it in {@code memory}, and settles what was half done: a batch announced is
     * cleared if the ring has it, made in flight again if not; on a packed ring, used descriptors
     * the old process wrote past the committed position without publishing them are taken back
     * (their USED bit flipped), so that the driver cannot take one for a completion after the new
     * process publishes up to it. Returns null if there is no log; {@link #recoveredState()} then
     * says where the ring resumes and {@link #bind} attaches the ring made from it.
     *
     * @throws Unusable if the log is not of this ring (another size, layout or place) or does not
     *     hold together; nothing was written then
     */
    static InflightLog recover(Path path, VduseVqInfo vq, boolean packed, IovaMemory memory, CrashHook crash)
            throws IOException, Unusable {
        if (!Files.exists(path)) {
            return null;
        }
        long bytes = Files.size(path);
        if (bytes < InflightLayout.HEADER_SIZE) {
            throw new Unusable("%s has %d bytes, less than a header".formatted(path, bytes));
        }
        MemorySegment log = map(path, bytes, false);
        int capacity = lpU16(log, CAPACITY_OFFSET);
        int size = vq.num();
        check(lpI32(log, MAGIC_OFFSET) == MAGIC, "%s is not an in-flight log", path);
        check(lpU16(log, VERSION_OFFSET) == VERSION, "%s has version %d, not %d", path,
                lpU16(log, VERSION_OFFSET), VERSION);
        check(bytes == InflightLayout.fileSize(capacity), "%s has %d bytes for a capacity of %d", path, bytes,
                capacity);
        int layout = lpU16(log, LAYOUT_OFFSET);
        check(layout == (packed ? LAYOUT_PACKED : LAYOUT_SPLIT), "%s is of a %s ring, the driver runs a %s one",
                path, layout == LAYOUT_PACKED ? "packed" : "split", packed ? "packed" : "split");
        check(lpU16(log, RING_SIZE_OFFSET) == size && size <= capacity && size > 0,
                "%s is of a ring of %d, the driver's has %d", path, lpU16(log, RING_SIZE_OFFSET), size);
        check(lpI64(log, DESC_ADDR_OFFSET) == vq.descAddr() && lpI64(log, DRIVER_ADDR_OFFSET) == vq.driverAddr()
                && lpI64(log, DEVICE_ADDR_OFFSET) == vq.deviceAddr(),
                "%s is of a ring at 0x%x/0x%x/0x%x, the driver's is at 0x%x/0x%x/0x%x", path,
                lpI64(log, DESC_ADDR_OFFSET), lpI64(log, DRIVER_ADDR_OFFSET), lpI64(log, DEVICE_ADDR_OFFSET),
                vq.descAddr(), vq.driverAddr(), vq.deviceAddr());
        long avail = lpI64(log, AVAIL_OFFSET);
        long committed = lpI64(log, COMMITTED_OFFSET);
        long pending = lpI64(log, PENDING_OFFSET);
        check(committed >= 0 && pending - committed >= 0 && pending - committed <= size && avail - committed >= 0
                        && avail - committed <= size,
                "%s has positions avail %d, committed %d, pending %d in a ring of %d", path, avail, committed,
                pending, size);
        for (int id = size; id < capacity; id++) {
            check(lpState(log, id) == FREE, "%s has entry %d in use in a ring of %d", path, id, size);
        }

        MemorySegment ringArea;
        try {
            ringArea = packed ? memory.slice(vq.descAddr(), PackedRing.descRingSize(size), Access.READ_WRITE)
                    : memory.slice(vq.deviceAddr() + SplitRing.USED_IDX, 2, Access.READ);
        } catch (RuntimeException e) {
            throw new Unusable("the ring of %s cannot be read: %s".formatted(path, e.getMessage()));
        }
        // Did the announced batch reach the ring? Only the ring can say.
        boolean published;
        if (!packed) {
            int usedIdx = Short.toUnsignedInt(ringArea.get(Layouts.LE16, 0));
            if (usedIdx == (int) (pending & 0xffff)) {
                published = pending != committed;
            } else {
                check(usedIdx == (int) (committed & 0xffff), "%s: the used ring's idx is %d, the log has %d (%d announced)",
                        path, usedIdx, committed & 0xffff, pending & 0xffff);
                published = false;
            }
        } else if (pending != committed) {
            int flags = Short.toUnsignedInt(ringArea.get(Layouts.LE16,
                    InflightLayout.slotOf(committed, size) * PackedRing.DESC_SIZE + PackedRing.DESC_FLAGS));
            published = ((flags & PackedRing.DESC_F_USED) != 0) == InflightLayout.wrapOf(committed, size);
        } else {
            published = false;
        }

        // Everything below is checked before anything is written.
        List<long[]> inFlight = new ArrayList<>(); // {counter, id}
        BitSet cellsInUse = new BitSet(capacity);
        long end = avail;
        long slotsInFlight = 0;
        for (int id = 0; id < size; id++) {
            int state = lpState(log, id);
            check(state == FREE || state == IN_FLIGHT || state == PUSHED, "%s: entry %d has state %d", path, id,
                    state);
            if (state == FREE || (state == PUSHED && published)) {
                continue;
            }
            long e = entry(id);
            long counter = lpI64(log, e + ENTRY_COUNTER);
            int slots = lpU16(log, e + ENTRY_SLOTS);
            check(slots >= 1 && slots <= size && (packed || slots == 1) && counter >= 0,
                    "%s: entry %d has counter %d and %d slot(s)", path, id, counter, slots);
            if (packed) {
                int c = lpU16(log, e + ENTRY_FIRST_CELL);
                for (int i = 0; i < slots; i++) {
                    check(c < capacity && !cellsInUse.get(c), "%s: entry %d's cell %d is out of range or shared",
                            path, id, c);
                    cellsInUse.set(c);
                    c = lpU16(log, cell(capacity, c) + CELL_NEXT);
                }
            }
            end = Math.max(end, counter + slots);
            slotsInFlight += slots;
            inFlight.add(new long[] {counter, id});
        }
        check(end - committed <= size && slotsInFlight <= end - committed,
                "%s: %d slot(s) in flight up to position %d, committed %d, in a ring of %d", path, slotsInFlight,
                end, committed, size);

        // Settle the batch. The entries first, then the header: a kill in the middle leaves the
        // same question, with the same answer from the ring, to the next recovery (which also
        // redoes the take-backs below, and the avail position, last).
        for (int id = 0; id < size; id++) {
            if (lpState(log, id) == PUSHED) {
                soState(log, id, published ? FREE : IN_FLIGHT);
                at(crash, Step.SETTLED);
            }
        }
        if (published) {
            committed = pending;
            soI64(log, COMMITTED_OFFSET, committed);
            at(crash, Step.SETTLED);
        } else if (pending != committed) {
            soI64(log, PENDING_OFFSET, committed);
            at(crash, Step.SETTLED);
        }
        if (packed) {
            // Slots from the committed position up to the avail position belong to chains the
            // device popped: the driver writes none of them until it has seen them used. Used
            // descriptors the old process pushed there without publishing the batch must not be
            // seen later, when a batch of the new process ends just before one of them.
            for (long p = committed; p < end; p++) {
                long off = InflightLayout.slotOf(p, size) * PackedRing.DESC_SIZE + PackedRing.DESC_FLAGS;
                int flags = Short.toUnsignedInt(ringArea.get(Layouts.LE16, off));
                boolean wrap = InflightLayout.wrapOf(p, size);
                boolean avail1 = (flags & PackedRing.DESC_F_AVAIL) != 0;
                boolean used1 = (flags & PackedRing.DESC_F_USED) != 0;
                if (avail1 == wrap && used1 == wrap) {
                    ringArea.set(Layouts.LE16, off, (short) (wrap ? flags & ~PackedRing.DESC_F_USED
                            : flags | PackedRing.DESC_F_USED));
                }
                at(crash, Step.SCRUBBED);
            }
        }
        soI64(log, AVAIL_OFFSET, end);

        InflightLog recovered = new InflightLog(path, log, capacity, size, packed, crash);
        recovered.availPosition = end;
        recovered.usedPosition = committed;
        for (int c = capacity - 1; c >= 0; c--) {
            if (!cellsInUse.get(c)) {
                recovered.freeCells[recovered.freeCellCount++] = c;
            }
        }
        inFlight.sort(Comparator.comparingLong(a -> a[0]));
        recovered.resubmissions = inFlight.stream().mapToInt(a -> (int) a[1]).toArray();
        recovered.recoveredState = packed
                ? new VqState.Packed(InflightLayout.wrapOf(end, size) ? 1 : 0, InflightLayout.slotOf(end, size),
                        InflightLayout.wrapOf(committed, size) ? 1 : 0, InflightLayout.slotOf(committed, size))
                : new VqState.Split((int) (end & 0xffff));
        if (packed) {
            recovered.scratch = Arena.ofAuto().allocate(PackedRing.descRingSize(size), PackedRing.DESC_ALIGN);
        }
        return recovered;
    }

    private static void check(boolean ok, String format, Object... args) throws Unusable {
        if (!ok) {
            throw new Unusable(format.formatted(args));
        }
    }

    private static MemorySegment map(Path file, long bytes, boolean create) throws IOException {
        List<StandardOpenOption> options = new ArrayList<>(List.of(StandardOpenOption.READ, StandardOpenOption.WRITE));
        if (create) {
            options.add(StandardOpenOption.CREATE_NEW);
        }
        try (FileChannel channel = create
                ? FileChannel.open(file, java.util.Set.copyOf(options),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
                : FileChannel.open(file, java.util.Set.copyOf(options))) {
            // A shared mapping (READ_WRITE): stores reach the file's pages, which outlive the
            // process. Mapping past the end grows the file, with zeros. The automatic arena unmaps
            // it once nothing refers to it, without the handshake a shared arena's close costs.
            return channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, Arena.ofAuto());
        }
    }

    /** Where the ring resumes, after {@link #recover}; null for a log made by {@link #create}. */
    VqState recoveredState() {
        return recoveredState;
    }

    /** How many requests the run serves again before popping new ones. */
    int resubmissions() {
        return resubmissions.length;
    }

    /** Attaches the ring made from {@link #recoveredState()}; returns this log. */
    InflightLog bind(DeviceQueue ring) {
        if (ring.size() != size || ring.isPacked() != packed) {
            throw new IllegalArgumentException("the log is of another ring");
        }
        this.ring = ring;
        return this;
    }

    Path path() {
        return path;
    }

    // ---- the queue thread -------------------------------------------------------------------------

    /** Whether a request the old process had taken remains to be served again. */
    boolean hasResubmission() {
        return resubmitted < resubmissions.length;
    }

    /** Fills {@code chain} with the next request to serve again, in the order they were popped. */
    void resubmit(DescriptorChain chain) {
        int id = resubmissions[resubmitted++];
        if (!packed) {
            ring.resubmit(chain, id, null, 1);
            return;
        }
        long e = entry(id);
        int slots = lpU16(log, e + ENTRY_SLOTS);
        int c = lpU16(log, e + ENTRY_FIRST_CELL);
        for (int i = 0; i < slots; i++) {
            long to = i * PackedRing.DESC_SIZE;
            MemorySegment.copy(log, cell(capacity, c), scratch, to, CELL_SIZE);
            // The cell holds the link where the ring had the buffer id: put the id back.
            scratch.set(Layouts.LE16, to + PackedRing.DESC_ID, (short) id);
            c = lpU16(log, cell(capacity, c) + CELL_NEXT);
        }
        ring.resubmit(chain, id, scratch, slots);
    }

    /** The ring's pop, logged: the entry is in flight before the chain goes to the handler. */
    boolean pop(DescriptorChain chain) {
        if (!ring.pop(chain)) {
            return false;
        }
        at(Step.POPPED);
        int id = chain.id();
        if (id >= size) {
            // Entries are indexed by buffer id; Linux's drivers take ids below the ring size.
            throw new VirtqueueException(VirtqueueException.Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE,
                    "buffer id %d in a queue of size %d".formatted(id, size));
        }
        if (lpState(log, id) != FREE) {
            throw new VirtqueueException(VirtqueueException.Reason.ID_IN_FLIGHT,
                    "the driver made %s %d available again while it is in flight".formatted(packed ? "buffer" : "head",
                            id));
        }
        int slots = chain.ringSlots();
        long e = entry(id);
        spI64(log, e + ENTRY_COUNTER, availPosition);
        spU16(log, e + ENTRY_SLOTS, slots);
        if (packed) {
            // At most a ring's worth of slots is in flight, and every cell of a cleared entry is
            // back on the free stack: there is always a cell per slot.
            long link = e + ENTRY_FIRST_CELL;
            for (int i = 0; i < slots; i++) {
                int c = freeCells[--freeCellCount];
                long off = cell(capacity, c);
                ring.copyRingDescriptor(chain, i, log, off);
                spU16(log, link, c);
                link = off + CELL_NEXT;
            }
        }
        at(Step.ENTRY_WRITTEN);
        // Release: the counter, the slots and the cells before the mark. A kill between them
        // must not leave an entry in flight whose chain cannot be made again (the ring slots of
        // a packed chain may be overwritten as soon as other chains complete).
        soState(log, id, IN_FLIGHT);
        at(Step.MARKED_IN_FLIGHT);
        availPosition += slots;
        return true;
    }

    /** The ring's push, logged: the entry is marked pushed, for the next publish. */
    void push(DescriptorChain chain, int writtenLength) {
        ring.push(chain, writtenLength);
        at(Step.PUSHED_TO_RING);
        int id = chain.id();
        // Plain: the batch's announcement is a release store after it. A kill before the
        // announcement leaves a pushed entry with no batch announced, which recovery serves again,
        // as the used element never reached the driver.
        spState(log, id, PUSHED);
        batch[batchCount++] = id;
        batchSlots += chain.ringSlots();
        at(Step.MARKED_PUSHED);
    }

    /**
     * The ring's publish, logged: the batch is announced, published, its entries cleared, and the
     * used position committed. Returns what the ring's publish returns.
     */
    boolean publish() {
        if (batchCount == 0) {
            return ring.publish();
        }
        long target = usedPosition + batchSlots;
        // Plain: ordered by the announcement's release. Every chain this batch publishes was
        // popped before this position, so recovery does not pop it again; chains popped after
        // it are in flight, and recovery goes past them.
        spI64(log, AVAIL_OFFSET, availPosition);
        at(Step.AVAIL_RECORDED);
        // Release: the pushed marks and the avail position before the announcement. The ring's
        // publish is a release store too, so the announcement is in the log before the driver can
        // see the batch: a kill in between leaves a batch announced that the ring may or may not
        // have, which recovery asks the ring about.
        soI64(log, PENDING_OFFSET, target);
        at(Step.ANNOUNCED);
        boolean notify = ring.publish();
        at(Step.PUBLISHED);
        for (int i = 0; i < batchCount; i++) {
            int id = batch[i];
            if (packed) {
                long e = entry(id);
                int c = lpU16(log, e + ENTRY_FIRST_CELL);
                for (int s = lpU16(log, e + ENTRY_SLOTS); s > 0; s--) {
                    freeCells[freeCellCount++] = c;
                    c = lpU16(log, cell(capacity, c) + CELL_NEXT);
                }
            }
            // Release: after the ring's publish. A clear that got ahead of it would, with a kill
            // in between, leave a request neither in the log nor returned: lost.
            soState(log, id, FREE);
            at(Step.CLEARED);
        }
        // Release: after every clear. A commit that got ahead of one would, with a kill in
        // between, leave a pushed entry and no batch announced: served again, completed twice.
        soI64(log, COMMITTED_OFFSET, target);
        at(Step.COMMITTED);
        usedPosition = target;
        batchCount = 0;
        batchSlots = 0;
        return notify;
    }

    private void at(Step step) {
        at(crash, step);
    }

    private static void at(CrashHook crash, Step step) {
        if (crash != null) {
            crash.at(step);
        }
    }

    @Override
    public String toString() {
        return "InflightLog[" + path + ", avail " + availPosition + ", used " + usedPosition + "]";
    }

    static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot delete the in-flight log {0}: {1}", file, e.getMessage());
        }
    }
}
