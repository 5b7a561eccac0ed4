package io.vduse.virtqueue;

import io.vduse.iova.Access;
import io.vduse.iova.IovaFault;
import io.vduse.iova.IovaMemory;
import io.vduse.iova.Mapping;
import io.vduse.virtqueue.VirtqueueException.Reason;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An indirect descriptor table in driver memory, read one 16-byte entry at a time into a
 * private copy, so each entry is read once (the driver cannot change it between the checks and
 * the use) and a table may span mappings.
 *
 * <p>Split and packed tables share the 16-byte entry but not its last four bytes; callers read
 * {@link #entry()} with their layout's offsets.
 */
final class IndirectTable {

    private static final long ENTRY_SIZE = 16;

    private final IovaMemory memory;
    private final int capacity;
    // Native memory, as ChainReader's scratch is.
    private final MemorySegment entry = Arena.ofAuto().allocate(ENTRY_SIZE);
    private long base;
    private int length;
    private Mapping mapping;

    IndirectTable(IovaMemory memory, int capacity) {
        this.memory = memory;
        this.capacity = capacity;
    }

    /**
     * Points at the table the descriptor {@code address}/{@code byteLength} describes and returns
     * its number of entries, checking that it is a possible table of at most {@code room} entries.
     */
    int open(long address, int byteLength, int room) {
        long bytes = Integer.toUnsignedLong(byteLength);
        if (bytes == 0) {
            throw new VirtqueueException(Reason.INDIRECT_TABLE_EMPTY,
                    "indirect table at 0x%x has length 0".formatted(address));
        }
        if (bytes % ENTRY_SIZE != 0) {
            throw new VirtqueueException(Reason.INDIRECT_TABLE_MISALIGNED,
                    "indirect table at 0x%x has length %d, not a multiple of 16".formatted(address, bytes));
        }
        if (Long.compareUnsigned(address + bytes - 1, address) < 0) {
            throw new VirtqueueException(Reason.ADDRESS_OVERFLOW,
                    "indirect table at 0x%x of length %d wraps past 2^64".formatted(address, bytes));
        }
        long entries = bytes / ENTRY_SIZE;
        if (entries > Math.min(room, capacity)) {
            throw new VirtqueueException(Reason.CHAIN_TOO_LONG,
                    "indirect table at 0x%x has %d entries, room for %d in a queue of size %d"
                            .formatted(address, entries, Math.min(room, capacity), capacity));
        }
        base = address;
        length = (int) entries;
        mapping = null;
        return length;
    }

    /** Copies entry {@code index} (below the table length) into {@link #entry()}. */
    void load(int index) {
        long at = base + index * ENTRY_SIZE;
        long copied = 0;
        try {
            while (copied < ENTRY_SIZE) {
                long iova = at + copied;
                Mapping m = mapping;
                if (m == null || !m.contains(iova)) {
                    m = memory.mapping(iova, Access.READ);
                    mapping = m;
                }
                long n = ENTRY_SIZE - copied;
                long inMapping = m.remainingFrom(iova);
                if (inMapping != 0 && Long.compareUnsigned(inMapping, n) < 0) {
                    n = inMapping;
                }
                MemorySegment.copy(m.memory(), m.offsetOf(iova), entry, copied, n);
                copied += n;
            }
        } catch (IovaFault fault) {
            throw new VirtqueueException(Reason.IOVA_FAULT,
                    "indirect table at 0x%x, entry %d: %s".formatted(base, index, fault.getMessage()), fault);
        } catch (IllegalStateException e) {
            throw new VirtqueueException(Reason.IOVA_FAULT,
                    "indirect table at 0x%x, entry %d: memory invalidated while in use".formatted(base, index), e);
        }
    }

    /** The private copy of the last loaded entry. */
    MemorySegment entry() {
        return entry;
    }

    /** Number of entries of the open table. */
    int length() {
        return length;
    }
}
