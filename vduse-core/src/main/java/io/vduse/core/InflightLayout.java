package io.vduse.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The binary layout of one queue's in-flight log ({@link InflightLog}): a header, one entry per
 * descriptor head (split) or buffer id (packed), and one cell per ring descriptor a packed chain
 * in flight took. All fields little-endian, every field aligned to its size; the file is mapped
 * shared, so each store is in the page cache the moment it is made and outlives the process.
 *
 * <p>Positions are 64-bit and only grow while a driver session lasts. On a split ring a position
 * counts available-ring entries (its low 16 bits are the ring's index); on a packed ring it counts
 * ring slots, and position {@code p} is slot {@code p % size} in a lap whose wrap counter is 1 for
 * even laps and 0 for odd ones ({@link #slotOf}, {@link #wrapOf}).
 *
 * <pre>
 * header, 64 bytes:
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                     magic "VDIL" (0x4c494456)                 |  0
 *  +-------------------------------+-------------------------------+
 *  |          version (1)          |   layout: 1 split, 2 packed   |  4
 *  +-------------------------------+-------------------------------+
 *  |       ring size (num)         |  capacity (entries, cells)    |  8
 *  +-------------------------------+-------------------------------+
 *  |                           reserved                            | 12
 *  +---------------------------------------------------------------+
 *  |                 descriptor area IOVA (u64)                    | 16
 *  |                 driver area IOVA (u64)                        | 24
 *  |                 device area IOVA (u64)                        | 32
 *  +---------------------------------------------------------------+
 *  |  avail position (u64): where the device had popped up to, as  | 40
 *  |  of its last publish (or its start)                           |
 *  +---------------------------------------------------------------+
 *  |  committed used position (u64): the used position whose      | 48
 *  |  batch is published and whose entries are cleared             |
 *  +---------------------------------------------------------------+
 *  |  pending used position (u64): where the batch being published | 56
 *  |  takes the used position; equal to committed between batches  |
 *  +---------------------------------------------------------------+
 *
 * entry i (16 bytes at 64 + 16 i), for head / buffer id i:
 *  +---------------------------------------------------------------+
 *  |  counter (u64): the position of the chain's first slot, which | 0
 *  |  also orders resubmission (the order of the pops)             |
 *  +---------------+---------------+-------------------------------+
 *  | state (u8)    |   reserved    |  slots (u16): ring slots the  | 8
 *  | 0 free        |               |  chain took (split: 1)        |
 *  | 1 in flight   |               |                               |
 *  | 2 pushed      |               |                               |
 *  +---------------+---------------+-------------------------------+
 *  |  first cell (u16, packed)     |           reserved            | 12
 *  +-------------------------------+-------------------------------+
 *
 * cell j (16 bytes at 64 + 16 capacity + 16 j): a packed ring descriptor as popped, its buffer
 * id replaced by the link to the chain's next cell (the id is the entry's index):
 *  +---------------------------------------------------------------+
 *  |                          addr (u64)                           | 0
 *  +---------------------------------------------------------------+
 *  |                          len (u32)                            | 8
 *  +-------------------------------+-------------------------------+
 *  |       next cell (u16)         |          flags (u16)          | 12
 *  +-------------------------------+-------------------------------+
 * </pre>
 *
 * <p>Accessor names say their ordering (JCTools style): {@code lp}/{@code sp} plain, {@code so}
 * store-release. Which store needs release, and against what, is said where it is made.
 */
final class InflightLayout {

    static final int MAGIC = 0x4c49_4456; // "VDIL" read as a little-endian int
    static final int VERSION = 1;
    static final int LAYOUT_SPLIT = 1;
    static final int LAYOUT_PACKED = 2;

    static final long MAGIC_OFFSET = 0;
    static final long VERSION_OFFSET = 4;
    static final long LAYOUT_OFFSET = 6;
    static final long RING_SIZE_OFFSET = 8;
    static final long CAPACITY_OFFSET = 10;
    static final long DESC_ADDR_OFFSET = 16;
    static final long DRIVER_ADDR_OFFSET = 24;
    static final long DEVICE_ADDR_OFFSET = 32;
    static final long AVAIL_OFFSET = 40;
    static final long COMMITTED_OFFSET = 48;
    static final long PENDING_OFFSET = 56;
    static final long HEADER_SIZE = 64;

    static final long ENTRY_SIZE = 16;
    static final long ENTRY_COUNTER = 0;
    static final long ENTRY_STATE = 8;
    static final long ENTRY_SLOTS = 10;
    static final long ENTRY_FIRST_CELL = 12;

    static final int FREE = 0;
    static final int IN_FLIGHT = 1;
    static final int PUSHED = 2;

    static final long CELL_SIZE = 16;
    static final long CELL_ADDR = 0;
    static final long CELL_LEN = 8;
    static final long CELL_NEXT = 12;
    static final long CELL_FLAGS = 14;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();
    private static final VarHandle LONG = LE64.varHandle();

    private InflightLayout() {}

    /** The bytes of a log with room for {@code capacity} entries and cells. */
    static long fileSize(int capacity) {
        return HEADER_SIZE + (ENTRY_SIZE + CELL_SIZE) * capacity;
    }

    static long entry(int id) {
        return HEADER_SIZE + ENTRY_SIZE * id;
    }

    static long cell(int capacity, int index) {
        return HEADER_SIZE + ENTRY_SIZE * capacity + CELL_SIZE * index;
    }

    /** The ring slot of packed position {@code position} in a ring of {@code size}. */
    static int slotOf(long position, int size) {
        return (int) (position % size);
    }

    /** The wrap counter of the lap packed position {@code position} is in. */
    static boolean wrapOf(long position, int size) {
        return ((position / size) & 1) == 0;
    }

    /** The packed position of slot {@code index} in the first lap whose wrap counter is {@code wrap}. */
    static long packedPosition(int index, boolean wrap, int size) {
        return index + (wrap ? 0 : size);
    }

    // ---- accessors ----

    static int lpU16(MemorySegment log, long offset) {
        return Short.toUnsignedInt(log.get(LE16, offset));
    }

    static void spU16(MemorySegment log, long offset, int value) {
        log.set(LE16, offset, (short) value);
    }

    static int lpI32(MemorySegment log, long offset) {
        return log.get(LE32, offset);
    }

    static void spI32(MemorySegment log, long offset, int value) {
        log.set(LE32, offset, value);
    }

    static long lpI64(MemorySegment log, long offset) {
        return log.get(LE64, offset);
    }

    static void spI64(MemorySegment log, long offset, long value) {
        log.set(LE64, offset, value);
    }

    static void soI64(MemorySegment log, long offset, long value) {
        LONG.setRelease(log, offset, value);
    }

    static int lpState(MemorySegment log, int id) {
        return Byte.toUnsignedInt(log.get(ValueLayout.JAVA_BYTE, entry(id) + ENTRY_STATE));
    }

    static void spState(MemorySegment log, int id, int state) {
        log.set(ValueLayout.JAVA_BYTE, entry(id) + ENTRY_STATE, (byte) state);
    }

    static void soState(MemorySegment log, int id, int state) {
        BYTE.setRelease(log, entry(id) + ENTRY_STATE, (byte) state);
    }
}
