package io.vduse.virtqueue;

import io.vduse.iova.Access;
import io.vduse.iova.IovaFault;
import io.vduse.iova.IovaMemory;
import io.vduse.iova.Mapping;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * IOVA space for tests: a few mappings, each its own page-aligned native segment, with the
 * permissions a test wants; anything else is a hole. {@link #raw} reaches memory the way the
 * driver does, ignoring permissions.
 */
final class TestMemory implements IovaMemory, AutoCloseable {

    private final Arena arena = Arena.ofShared();
    private final List<Mapping> mappings = new ArrayList<>();
    long lookups;

    /** Maps {@code [start, start + size)} with {@code access}, zero-filled. */
    TestMemory map(long start, long size, Access access) {
        MemorySegment memory = arena.allocate(size, 4096);
        mappings.add(new Mapping(start, start + size - 1, access, memory));
        return this;
    }

    @Override
    public Mapping mapping(long iova, Access access) {
        lookups++;
        for (Mapping m : mappings) {
            if (m.contains(iova)) {
                if (!m.access().allows(access)) {
                    throw new IovaFault(IovaFault.Reason.PERMISSION, iova, 0, access);
                }
                return m;
            }
        }
        throw new IovaFault(IovaFault.Reason.UNMAPPED, iova, 0, access);
    }

    /** The mapped memory at native address {@code address}, as a device's pieces give it. */
    MemorySegment atAddress(long address, long length) {
        for (Mapping m : mappings) {
            MemorySegment memory = m.memory();
            if (memory.isNative() && address >= memory.address()
                    && address + length <= memory.address() + memory.byteSize()) {
                return memory.asSlice(address - memory.address(), length);
            }
        }
        throw new IllegalArgumentException("no mapping holds address 0x%x".formatted(address));
    }

    /** Maps {@code [start, start + size)} with {@code access} over heap memory (no native address). */
    TestMemory mapHeap(long start, int size, Access access) {
        mappings.add(new Mapping(start, start + size - 1, access, MemorySegment.ofArray(new byte[size])));
        return this;
    }

    /** The memory at {@code [iova, iova + length)}, which one mapping must hold; no permission check. */
    MemorySegment raw(long iova, long length) {
        for (Mapping m : mappings) {
            if (m.contains(iova)) {
                return m.memory().asSlice(m.offsetOf(iova), length);
            }
        }
        throw new IllegalArgumentException("unmapped 0x%x".formatted(iova));
    }

    /** Copies {@code bytes} to {@code iova}, across mappings, ignoring permissions (the driver's view). */
    void copyIn(long iova, byte[] bytes) {
        long at = iova;
        int done = 0;
        while (done < bytes.length) {
            Mapping m = find(at);
            int n = (int) Math.min(bytes.length - done, m.remainingFrom(at));
            MemorySegment.copy(bytes, done, m.memory(), java.lang.foreign.ValueLayout.JAVA_BYTE, m.offsetOf(at), n);
            done += n;
            at += n;
        }
    }

    /** Reads {@code length} bytes at {@code iova}, across mappings, ignoring permissions. */
    byte[] copyOut(long iova, int length) {
        byte[] bytes = new byte[length];
        long at = iova;
        int done = 0;
        while (done < length) {
            Mapping m = find(at);
            int n = (int) Math.min(length - done, m.remainingFrom(at));
            MemorySegment.copy(m.memory(), java.lang.foreign.ValueLayout.JAVA_BYTE, m.offsetOf(at), bytes, done, n);
            done += n;
            at += n;
        }
        return bytes;
    }

    private Mapping find(long iova) {
        for (Mapping m : mappings) {
            if (m.contains(iova)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unmapped 0x%x".formatted(iova));
    }

    /** Copies every mapping's bytes, to compare later with {@link #changedOutside}. */
    byte[][] snapshot() {
        byte[][] copy = new byte[mappings.size()][];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = mappings.get(i).memory().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
        return copy;
    }

    /**
     * The first IOVA whose byte differs from {@code snapshot} and lies outside all of the
     * {@code allowed} ranges (pairs of start, length), or -1.
     */
    long changedOutside(byte[][] snapshot, long... allowed) {
        for (int i = 0; i < snapshot.length; i++) {
            Mapping m = mappings.get(i);
            MemorySegment before = MemorySegment.ofArray(snapshot[i]);
            long from = 0;
            while (true) {
                long at = MemorySegment.mismatch(before, from, before.byteSize(), m.memory(), from, m.memory().byteSize());
                if (at < 0) {
                    break;
                }
                long iova = m.start() + at;
                if (!inside(iova, allowed)) {
                    return iova;
                }
                from = at + 1;
                if (from == before.byteSize()) {
                    break;
                }
            }
        }
        return -1;
    }

    private static boolean inside(long iova, long[] allowed) {
        for (int i = 0; i < allowed.length; i += 2) {
            if (iova >= allowed[i] && iova < allowed[i] + allowed[i + 1]) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        arena.close();
    }
}
