package io.vduse.virtqueue;

import io.vduse.api.Layouts;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.iova.Access;
import io.vduse.iova.IovaFault;
import io.vduse.virtqueue.VirtqueueException.Reason;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A plain model of what the device side should make of ring memory, written for clarity rather
 * than speed (sets for loops, lists for buffers, byte-by-byte permission checks), so the fuzz test
 * can compare every pop of the real thing with it: the same chain, or the same rejection.
 */
final class ChainModel {

    /** What one pop should give: nothing, a chain, or a rejection. */
    record Outcome(boolean empty, Reason reason, int id, List<long[]> buffers) {
        static Outcome none() {
            return new Outcome(true, null, -1, List.of());
        }

        static Outcome rejected(Reason reason) {
            return new Outcome(false, reason, -1, List.of());
        }
    }

    /** Thrown inside the model to leave the walk with a reason. */
    private static final class Reject extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final Reason reason;

        Reject(Reason reason) {
            super(reason.name(), null, false, false);
            this.reason = reason;
        }
    }

    private final TestMemory memory;
    private final MemorySegment ring;
    private final long ringBase;
    private final int size;
    private final boolean packed;
    private final long descIova;
    private final long driverIova;
    private final long deviceIova;

    // Split position.
    int lastAvail;
    int publishedUsed;
    // Packed position.
    int availIdx;
    boolean availWrap;
    // Chains the device popped in this case.
    long popped;

    ChainModel(TestMemory memory, MemorySegment ring, long ringBase, int size, boolean packed,
            long descIova, long driverIova, long deviceIova) {
        this.memory = memory;
        this.ring = ring;
        this.ringBase = ringBase;
        this.size = size;
        this.packed = packed;
        this.descIova = descIova;
        this.driverIova = driverIova;
        this.deviceIova = deviceIova;
    }

    private int u16(long iova) {
        return Short.toUnsignedInt(ring.get(Layouts.LE16, iova - ringBase));
    }

    private int i32(long iova) {
        return ring.get(Layouts.LE32, iova - ringBase);
    }

    private long i64(long iova) {
        return ring.get(Layouts.LE64, iova - ringBase);
    }

    /** The next pop's outcome; on a chain, the position moves on as the device's would. */
    Outcome next() {
        try {
            return packed ? nextPacked() : nextSplit();
        } catch (Reject r) {
            return Outcome.rejected(r.reason);
        }
    }

    private Outcome nextSplit() {
        int idx = u16(driverIova + SplitRing.AVAIL_IDX);
        int ahead = (idx - publishedUsed) & 0xffff;
        if (ahead > size || ahead < ((lastAvail - publishedUsed) & 0xffff)) {
            throw new Reject(Reason.AVAIL_INDEX_TOO_FAR);
        }
        if (idx == lastAvail) {
            return Outcome.none();
        }
        int head = u16(driverIova + SplitRing.AVAIL_RING + 2L * (lastAvail % size));
        List<long[]> buffers = new ArrayList<>();
        Set<Integer> seen = new HashSet<>();
        int i = head;
        while (true) {
            if (i >= size) {
                throw new Reject(Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE);
            }
            if (!seen.add(i)) {
                throw new Reject(Reason.DESCRIPTOR_LOOP);
            }
            long d = descIova + 16L * i;
            long addr = i64(d);
            long len = Integer.toUnsignedLong(i32(d + 8));
            int flags = u16(d + 12);
            if ((flags & SplitRing.DESC_F_INDIRECT) != 0) {
                int entries = openTable(flags, addr, len, buffers.size(), SplitRing.DESC_F_NEXT);
                Set<Integer> seenInTable = new HashSet<>();
                int j = 0;
                while (true) {
                    if (j >= entries) {
                        throw new Reject(Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE);
                    }
                    if (!seenInTable.add(j)) {
                        throw new Reject(Reason.DESCRIPTOR_LOOP);
                    }
                    byte[] e = readEntry(addr + 16L * j);
                    MemorySegment s = MemorySegment.ofArray(e);
                    int f = Short.toUnsignedInt(s.get(Layouts.LE16, 12));
                    if ((f & SplitRing.DESC_F_INDIRECT) != 0) {
                        throw new Reject(Reason.NESTED_INDIRECT);
                    }
                    addBuffer(buffers, s.get(Layouts.LE64, 0), Integer.toUnsignedLong(s.get(Layouts.LE32, 8)),
                            (f & SplitRing.DESC_F_WRITE) != 0);
                    if ((f & SplitRing.DESC_F_NEXT) == 0) {
                        break;
                    }
                    j = Short.toUnsignedInt(s.get(Layouts.LE16, 14));
                }
                break;
            }
            addBuffer(buffers, addr, len, (flags & SplitRing.DESC_F_WRITE) != 0);
            if ((flags & SplitRing.DESC_F_NEXT) == 0) {
                break;
            }
            i = u16(d + 14);
        }
        lastAvail = (lastAvail + 1) & 0xffff;
        return new Outcome(false, null, head, buffers);
    }

    private Outcome nextPacked() {
        int flags = u16(descIova + 16L * availIdx + 14);
        boolean a = (flags & PackedRing.DESC_F_AVAIL) != 0;
        boolean u = (flags & PackedRing.DESC_F_USED) != 0;
        if (a != availWrap || u == availWrap) {
            return Outcome.none();
        }
        List<long[]> buffers = new ArrayList<>();
        int pos = availIdx;
        boolean wrap = availWrap;
        int used = 0;
        int id;
        while (true) {
            long d = descIova + 16L * pos;
            long addr = i64(d);
            long len = Integer.toUnsignedLong(i32(d + 8));
            int descId = u16(d + 12);
            int f = u16(d + 14);
            used++;
            pos = (pos + 1) % size;
            if (pos == 0) {
                wrap = !wrap;
            }
            if ((f & PackedRing.DESC_F_INDIRECT) != 0) {
                int entries = openTable(f, addr, len, buffers.size(), PackedRing.DESC_F_NEXT);
                for (int j = 0; j < entries; j++) {
                    MemorySegment s = MemorySegment.ofArray(readEntry(addr + 16L * j));
                    int ef = Short.toUnsignedInt(s.get(Layouts.LE16, 14));
                    if ((ef & PackedRing.DESC_F_INDIRECT) != 0) {
                        throw new Reject(Reason.NESTED_INDIRECT);
                    }
                    addBuffer(buffers, s.get(Layouts.LE64, 0), Integer.toUnsignedLong(s.get(Layouts.LE32, 8)),
                            (ef & PackedRing.DESC_F_WRITE) != 0);
                }
                id = descId;
                break;
            }
            addBuffer(buffers, addr, len, (f & PackedRing.DESC_F_WRITE) != 0);
            if ((f & PackedRing.DESC_F_NEXT) == 0) {
                id = descId;
                break;
            }
            if (used == size) {
                throw new Reject(Reason.CHAIN_TOO_LONG);
            }
        }
        availIdx = pos;
        availWrap = wrap;
        return new Outcome(false, null, id, buffers);
    }

    /** Checks an indirect descriptor (the feature is always negotiated here) and returns its entry count. */
    private int openTable(int flags, long addr, long len, int buffersSoFar, int nextFlag) {
        if ((flags & nextFlag) != 0) {
            throw new Reject(Reason.INDIRECT_WITH_NEXT);
        }
        if (len == 0) {
            throw new Reject(Reason.INDIRECT_TABLE_EMPTY);
        }
        if (len % 16 != 0) {
            throw new Reject(Reason.INDIRECT_TABLE_MISALIGNED);
        }
        if (wraps(addr, len)) {
            throw new Reject(Reason.ADDRESS_OVERFLOW);
        }
        if (len / 16 > size - buffersSoFar) {
            throw new Reject(Reason.CHAIN_TOO_LONG);
        }
        return (int) (len / 16);
    }

    private static boolean wraps(long addr, long len) {
        return len > 0 && Long.compareUnsigned(addr, -1L - (len - 1)) > 0;
    }

    private void addBuffer(List<long[]> buffers, long addr, long len, boolean writable) {
        if (buffers.size() == size) {
            throw new Reject(Reason.CHAIN_TOO_LONG);
        }
        if (wraps(addr, len)) {
            throw new Reject(Reason.ADDRESS_OVERFLOW);
        }
        if (!writable && !buffers.isEmpty() && buffers.get(buffers.size() - 1)[2] == 1) {
            throw new Reject(Reason.READABLE_AFTER_WRITABLE);
        }
        long total = len;
        for (long[] b : buffers) {
            total += b[1];
        }
        if (total > 0xffff_ffffL) {
            throw new Reject(Reason.LENGTH_OVERFLOW);
        }
        buffers.add(new long[] {addr, len, writable ? 1 : 0});
    }

    /** 16 bytes at {@code iova}, each of which must be mapped readable. */
    private byte[] readEntry(long iova) {
        byte[] e = new byte[16];
        for (int k = 0; k < 16; k++) {
            try {
                var m = memory.mapping(iova + k, Access.READ);
                e[k] = m.memory().get(Layouts.U8, m.offsetOf(iova + k));
            } catch (IovaFault f) {
                throw new Reject(Reason.IOVA_FAULT);
            }
        }
        return e;
    }

    /** The split used ring's idx as the ring holds it now (a reset starts from it). */
    int splitUsedInRing() {
        return packed ? 0 : u16(deviceIova + SplitRing.USED_IDX);
    }
}
