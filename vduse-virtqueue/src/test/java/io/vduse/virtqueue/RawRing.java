package io.vduse.virtqueue;

import io.vduse.api.Layouts;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import java.lang.foreign.MemorySegment;

/** Writes ring memory by hand, as a misbehaving driver would, for the bad-input tests. */
final class RawRing {

    private final Rig rig;
    private int packedPos;
    private boolean packedWrap = true;

    RawRing(Rig rig) {
        this.rig = rig;
    }

    /** Writes split descriptor {@code index} of the ring's table. */
    RawRing split(int index, long addr, long len, int flags, int next) {
        splitEntry(rig.raw(rig.descIova + 16L * index, 16), addr, len, flags, next);
        return this;
    }

    /** Writes split descriptor {@code index} of a table at {@code tableIova}. */
    RawRing splitTable(long tableIova, int index, long addr, long len, int flags, int next) {
        splitEntry(rig.raw(tableIova + 16L * index, 16), addr, len, flags, next);
        return this;
    }

    private static void splitEntry(MemorySegment d, long addr, long len, int flags, int next) {
        d.set(Layouts.LE64, SplitRing.DESC_ADDR, addr);
        d.set(Layouts.LE32, SplitRing.DESC_LEN, (int) len);
        d.set(Layouts.LE16, SplitRing.DESC_FLAGS, (short) flags);
        d.set(Layouts.LE16, SplitRing.DESC_NEXT, (short) next);
    }

    /** Puts {@code heads} in the available ring from entry 0 and sets idx to their count. */
    RawRing avail(int... heads) {
        MemorySegment avail = rig.raw(rig.driverIova, SplitRing.availRingSize(rig.size));
        for (int i = 0; i < heads.length; i++) {
            avail.set(Layouts.LE16, SplitRing.AVAIL_RING + 2L * (i % rig.size), (short) heads[i]);
        }
        availIdx(heads.length);
        return this;
    }

    /** Sets the available idx alone. */
    RawRing availIdx(int idx) {
        rig.raw(rig.driverIova, 4).set(Layouts.LE16, SplitRing.AVAIL_IDX, (short) idx);
        return this;
    }

    /** Appends a packed descriptor at the next ring slot, made available in the current lap. */
    RawRing packed(long addr, long len, int id, int flags) {
        MemorySegment d = rig.raw(rig.descIova + 16L * packedPos, 16);
        packedEntry(d, addr, len, id, flags | (packedWrap ? PackedRing.DESC_F_AVAIL : PackedRing.DESC_F_USED));
        if (++packedPos == rig.size) {
            packedPos = 0;
            packedWrap = !packedWrap;
        }
        return this;
    }

    /** Writes packed entry {@code index} of a table at {@code tableIova}. */
    RawRing packedTable(long tableIova, int index, long addr, long len, int flags) {
        packedEntry(rig.raw(tableIova + 16L * index, 16), addr, len, 0, flags);
        return this;
    }

    private static void packedEntry(MemorySegment d, long addr, long len, int id, int flags) {
        d.set(Layouts.LE64, PackedRing.DESC_ADDR, addr);
        d.set(Layouts.LE32, PackedRing.DESC_LEN, (int) len);
        d.set(Layouts.LE16, PackedRing.DESC_ID, (short) id);
        d.set(Layouts.LE16, PackedRing.DESC_FLAGS, (short) flags);
    }
}
