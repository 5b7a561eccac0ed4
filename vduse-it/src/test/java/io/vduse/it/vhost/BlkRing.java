package io.vduse.it.vhost;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.ErrnoException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * A minimal virtio-blk driver over one split virtqueue in the client's memory: the driver side of
 * the ring (descriptor table, avail ring, used ring) and requests of three descriptors each
 * (header, data, status), with every byte a read returns checked.
 *
 * <p>Layout of the queue's region ({@link #REGION} bytes at {@code offset} of the memory):
 *
 * <pre>
 * 0x00000 descriptor table  RING_SIZE x 16
 * 0x01000 avail ring        flags, idx, ring[RING_SIZE], used_event
 * 0x02000 used ring         flags, idx, ring[RING_SIZE] of {id, len}, avail_event
 * 0x03000 request headers   SLOTS x 16 (struct virtio_blk_outhdr)
 * 0x03800 status bytes      SLOTS x 1
 * 0x10000 data buffers      SLOTS x BLOCK
 * </pre>
 *
 * <p>Slot {@code s} uses descriptors {@code 3s, 3s+1, 3s+2} and owns {@link #ZONE_BLOCKS} blocks
 * of the disk that no other slot touches, and has at most one request in flight. So each slot's
 * data is a sequence of its own writes, and the expected content of any block is exactly the
 * pattern of the slot's last completed write to it (zeros before the first), whatever order the
 * device completes requests of different slots in. Each slot cycles write, read, write, read, ...
 * with a flush now and then; a read of a block checks it against that model.
 *
 * <p>One thread drives a ring at a time (the queue's owner, as in a driver); the counters are
 * volatile so that another thread may read them after that thread has stopped.
 */
public final class BlkRing {

    /** Ring entries: a power of two, at most the device's largest ring. */
    public static final int RING_SIZE = 128;
    /** Requests in flight at most: three descriptors each. */
    public static final int SLOTS = 32;
    /** Bytes of one request's data: one 4 KiB block. */
    public static final int BLOCK = 4096;
    /** Blocks of the disk each slot owns. */
    public static final int ZONE_BLOCKS = 8;
    /** Bytes of the disk one queue uses. */
    public static final long DISK_SPAN = (long) SLOTS * ZONE_BLOCKS * BLOCK;
    /** Bytes of client memory one queue uses. */
    public static final long REGION = 0x40000;

    private static final long DESC = 0x0000;
    private static final long AVAIL = 0x1000;
    private static final long USED = 0x2000;
    private static final long HEADERS = 0x3000;
    private static final long STATUS = 0x3800;
    private static final long DATA = 0x10000;
    private static final byte STATUS_UNSET = (byte) 0xEE;
    private static final byte READ_FILL = (byte) 0xA5;

    /** Aligned 16-bit access with acquire/release modes; the ring is little-endian, as this machine. */
    private static final VarHandle U16 = JAVA_SHORT.varHandle();

    static {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("the ring code assumes a little-endian machine");
        }
    }

    private enum Op { NONE, WRITE, READ, FLUSH }

    private final int queue;
    private final MemorySegment region;
    private volatile long iovaOfRegion;
    private final long diskOffset;
    private final long seed;
    private final int kickFd;
    private final int callFd;
    /** The 8-byte eventfd counter buffer; native, as write(2) and read(2) need. */
    private final MemorySegment eventBuffer = java.lang.foreign.Arena.ofAuto().allocate(8, 8);

    private final Op[] inFlight = new Op[SLOTS];
    private final int[] blockOf = new int[SLOTS];
    private final long[] genOf = new long[SLOTS];
    private final long[] step = new long[SLOTS];
    /** Generation of the last completed write of each (slot, block); 0: never written. */
    private final long[][] written = new long[SLOTS][ZONE_BLOCKS];
    private long nextGen = 1;

    private volatile int availIdx;
    private volatile int lastUsed;
    private volatile long completions;
    private volatile long bytesVerified;
    private int pending;

    /**
     * @param queue the queue index (for messages and the data pattern)
     * @param memory the client's memory as this thread writes it
     * @param offset where the queue's region starts in {@code memory}
     * @param iova the IOVA of {@code memory} offset 0 in the queue's address space
     * @param diskOffset the byte offset of the queue's span on the disk
     */
    public BlkRing(int queue, MemorySegment memory, long offset, long iova, long diskOffset, long seed)
            throws ErrnoException {
        this.queue = queue;
        this.region = memory.asSlice(offset, REGION);
        this.iovaOfRegion = iova + offset;
        this.diskOffset = diskOffset;
        this.seed = seed;
        this.kickFd = Libc.eventfd(Libc.EFD_CLOEXEC);
        this.callFd = Libc.eventfd(Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        java.util.Arrays.fill(inFlight, Op.NONE);
    }

    public int queue() {
        return queue;
    }

    public int kickFd() {
        return kickFd;
    }

    public int callFd() {
        return callFd;
    }

    public long descIova() {
        return iovaOfRegion + DESC;
    }

    public long availIova() {
        return iovaOfRegion + AVAIL;
    }

    public long usedIova() {
        return iovaOfRegion + USED;
    }

    /**
     * Moves the ring to another IOVA of the same memory (before the device is told, at set-up):
     * descriptors written from now on carry addresses of the new base.
     */
    public void relocate(long iovaOfMemory, long offset) {
        this.iovaOfRegion = iovaOfMemory + offset;
    }

    /**
     * Empties the ring for a fresh start at avail index 0 (the driver side of a reset): zeroes the
     * three areas and forgets requests in flight (the device dropped them). The model of the disk
     * is kept: data of completed writes must still be there.
     */
    public void reset() {
        region.asSlice(0, HEADERS).fill((byte) 0);
        java.util.Arrays.fill(inFlight, Op.NONE);
        pending = 0;
        availIdx = 0;
        lastUsed = 0;
    }

    /** Requests published and not yet completed. */
    public int pending() {
        return pending;
    }

    /** The avail index the client published (requests handed to the device, mod 2^16). */
    public int availIdx() {
        return availIdx;
    }

    /** The used index the client has consumed up to. */
    public int lastUsed() {
        return lastUsed;
    }

    /** Completions seen since the ring was created. */
    public long completions() {
        return completions;
    }

    /** Bytes of read data checked against the model. */
    public long bytesVerified() {
        return bytesVerified;
    }

    /** The used index the device last published, read from ring memory (acquire). */
    public int usedIdxInMemory() {
        // Acquire: pairs with the device's release of used->idx, so the used elements and the
        // data it covers are read after it.
        return Short.toUnsignedInt((short) U16.getAcquire(region, USED + SplitRing.USED_IDX));
    }

    /** Fills every idle slot with its next request and kicks once; returns how many were added. */
    public int fill() throws ErrnoException {
        int added = 0;
        for (int slot = 0; slot < SLOTS; slot++) {
            if (inFlight[slot] == Op.NONE) {
                submitNext(slot);
                added++;
            }
        }
        if (added > 0) {
            kick();
        }
        return added;
    }

    /**
     * Fills every idle slot and publishes the requests without kicking: a device that waits for
     * kicks (as the SDK's workers do when idle) leaves them in the ring until the next kick.
     */
    public int fillWithoutKick() {
        int added = 0;
        for (int slot = 0; slot < SLOTS; slot++) {
            if (inFlight[slot] == Op.NONE) {
                submitNext(slot);
                added++;
            }
        }
        return added;
    }

    /** Reads back every block of every slot and checks it (one request per slot at a time). */
    public void submitReadAll(int block) throws ErrnoException {
        for (int slot = 0; slot < SLOTS; slot++) {
            if (inFlight[slot] != Op.NONE) {
                throw new IllegalStateException("slot " + slot + " busy");
            }
            submit(slot, Op.READ, block, 0);
        }
        kick();
    }

    private void submitNext(int slot) {
        long k = step[slot]++;
        if (k % 8 == 7) {
            submit(slot, Op.FLUSH, 0, 0);
        } else if (k % 2 == 0) {
            submit(slot, Op.WRITE, (int) ((k / 2) % ZONE_BLOCKS), nextGen++);
        } else {
            // Read a block written earlier (or never): three blocks behind the last write.
            submit(slot, Op.READ, (int) ((k / 2 + 5) % ZONE_BLOCKS), 0);
        }
    }

    private void submit(int slot, Op op, int block, long gen) {
        long sector = (diskOffset + ((long) slot * ZONE_BLOCKS + block) * BLOCK) / VirtioBlk.SECTOR_SIZE;
        long header = HEADERS + slot * VirtioBlk.OUT_HDR_SIZE;
        int type = switch (op) {
            case WRITE -> VirtioBlk.T_OUT;
            case READ -> VirtioBlk.T_IN;
            case FLUSH -> VirtioBlk.T_FLUSH;
            case NONE -> throw new IllegalArgumentException();
        };
        region.set(JAVA_INT, header + VirtioBlk.OUT_HDR_TYPE, type);
        region.set(JAVA_INT, header + VirtioBlk.OUT_HDR_IOPRIO, 0);
        region.set(JAVA_LONG, header + VirtioBlk.OUT_HDR_SECTOR, op == Op.FLUSH ? 0 : sector);
        MemorySegment data = region.asSlice(DATA + (long) slot * BLOCK, BLOCK);
        if (op == Op.WRITE) {
            pattern(data, slot, block, gen);
        } else if (op == Op.READ) {
            data.fill(READ_FILL); // so that data the device did not write is seen as wrong
        }
        region.set(JAVA_BYTE, STATUS + slot, STATUS_UNSET);

        int head = slot * 3;
        int d = head;
        putDesc(d, iovaOfRegion + header, (int) VirtioBlk.OUT_HDR_SIZE, SplitRing.DESC_F_NEXT, d + 1);
        if (op != Op.FLUSH) {
            d++;
            putDesc(d, iovaOfRegion + DATA + (long) slot * BLOCK, BLOCK,
                    SplitRing.DESC_F_NEXT | (op == Op.READ ? SplitRing.DESC_F_WRITE : 0), d + 1);
        }
        d++;
        putDesc(d, iovaOfRegion + STATUS + slot, 1, SplitRing.DESC_F_WRITE, 0);

        inFlight[slot] = op;
        blockOf[slot] = block;
        genOf[slot] = gen;
        pending++;
        int idx = availIdx;
        region.set(JAVA_SHORT, AVAIL + SplitRing.AVAIL_RING + 2L * (idx & (RING_SIZE - 1)), (short) head);
        // Release: the descriptors, the header, the data and the ring entry above become visible
        // to the device before the index that hands them over (virtio 1.x, 2.7.13: a write
        // barrier before updating avail->idx).
        U16.setRelease(region, AVAIL + SplitRing.AVAIL_IDX, (short) (idx + 1));
        availIdx = (idx + 1) & 0xffff;
    }

    private void putDesc(int index, long addr, int len, int flags, int next) {
        long at = DESC + (long) index * SplitRing.DESC_SIZE;
        region.set(JAVA_LONG, at + SplitRing.DESC_ADDR, addr);
        region.set(JAVA_INT, at + SplitRing.DESC_LEN, len);
        region.set(JAVA_SHORT, at + SplitRing.DESC_FLAGS, (short) flags);
        region.set(JAVA_SHORT, at + SplitRing.DESC_NEXT, (short) ((flags & SplitRing.DESC_F_NEXT) == 0 ? 0 : next));
    }

    /**
     * Notifies the device. Always, without looking at {@code used->flags}: the driver does not
     * negotiate EVENT_IDX, and an extra kick costs only a syscall, while a missed one would hang
     * the ring. (The eventfd write is a syscall, so the avail index is in memory before it.)
     */
    public void kick() throws ErrnoException {
        eventBuffer.set(JAVA_LONG, 0, 1L);
        Libc.write(kickFd, eventBuffer, 8, "write kick eventfd of queue " + queue);
    }

    /** Takes every new used element, checks it and its data; returns how many. */
    public int reap() throws BlkCheckException {
        int used = usedIdxInMemory();
        int fresh = (used - lastUsed) & 0xffff;
        if (fresh > pending) {
            throw new BlkCheckException("queue %d: used idx %d is %d ahead of the %d consumed, with only %d in flight"
                    .formatted(queue, used, fresh, lastUsed, pending));
        }
        for (int i = 0; i < fresh; i++) {
            int at = (lastUsed + i) & (RING_SIZE - 1);
            long elem = USED + SplitRing.USED_RING + (long) at * SplitRing.USED_ELEM_SIZE;
            int id = region.get(JAVA_INT, elem);
            int len = region.get(JAVA_INT, elem + 4);
            complete(id, len);
        }
        lastUsed = (lastUsed + fresh) & 0xffff;
        return fresh;
    }

    private void complete(int id, int len) throws BlkCheckException {
        if (id < 0 || id >= SLOTS * 3 || id % 3 != 0 || inFlight[id / 3] == Op.NONE) {
            throw new BlkCheckException("queue %d: used element with id %d, not the head of a request in flight"
                    .formatted(queue, id));
        }
        int slot = id / 3;
        Op op = inFlight[slot];
        byte status = region.get(JAVA_BYTE, STATUS + slot);
        if (status != VirtioBlk.S_OK) {
            throw new BlkCheckException("queue %d slot %d: %s of block %d answered status 0x%02x"
                    .formatted(queue, slot, op, blockOf[slot], status));
        }
        int expectedLen = op == Op.READ ? BLOCK + 1 : 1;
        if (len != expectedLen) {
            throw new BlkCheckException("queue %d slot %d: %s completed with len %d, the device wrote %d bytes"
                    .formatted(queue, slot, op, len, expectedLen));
        }
        int block = blockOf[slot];
        if (op == Op.WRITE) {
            written[slot][block] = genOf[slot];
        } else if (op == Op.READ) {
            MemorySegment data = region.asSlice(DATA + (long) slot * BLOCK, BLOCK);
            check(data, slot, block, written[slot][block]);
        }
        inFlight[slot] = Op.NONE;
        pending--;
        completions++;
    }

    /** Checks {@code disk}'s copy of every block of the queue's span against the model (device memory). */
    public void checkDisk(MemorySegment disk) throws BlkCheckException {
        for (int slot = 0; slot < SLOTS; slot++) {
            for (int block = 0; block < ZONE_BLOCKS; block++) {
                long at = diskOffset + ((long) slot * ZONE_BLOCKS + block) * BLOCK;
                check(disk.asSlice(at, BLOCK), slot, block, written[slot][block]);
            }
        }
    }

    private void check(MemorySegment data, int slot, int block, long gen) throws BlkCheckException {
        for (int word = 0; word < BLOCK / 8; word++) {
            long want = gen == 0 ? 0 : word(slot, block, gen, word);
            long got = data.get(JAVA_LONG, word * 8L);
            if (got != want) {
                throw new BlkCheckException(("queue %d slot %d block %d: byte %d reads 0x%016x, the write of "
                        + "generation %d put 0x%016x").formatted(queue, slot, block, word * 8, got, gen, want));
            }
        }
        bytesVerified += BLOCK;
    }

    private void pattern(MemorySegment data, int slot, int block, long gen) {
        for (int word = 0; word < BLOCK / 8; word++) {
            data.set(JAVA_LONG, word * 8L, word(slot, block, gen, word));
        }
    }

    /** A pattern word no other (queue, slot, block, generation, word) shares, by a 64-bit mix. */
    private long word(int slot, int block, long gen, int word) {
        long x = seed ^ ((long) queue << 56) ^ ((long) slot << 48) ^ ((long) block << 40) ^ (gen << 16) ^ word;
        x = (x ^ (x >>> 30)) * 0xbf58476d1ce4e5b9L;
        x = (x ^ (x >>> 27)) * 0x94d049bb133111ebL;
        return x ^ (x >>> 31);
    }

    /**
     * Waits until {@code count} more requests completed, taking completions from the used ring and
     * sleeping on the call eventfd between looks.
     *
     * @return false if {@code timeoutMillis} passed first
     */
    public boolean await(long count, long timeoutMillis) throws ErrnoException, BlkCheckException {
        long target = completions + count;
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (completions < target) {
            if (reap() == 0) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                // The used index is looked at again after each wake-up or 20 ms: an interrupt can
                // come before the element is visible, and none comes if the device skips it.
                if (Libc.pollIn(callFd, 20)) {
                    drainCall();
                }
            }
        }
        return true;
    }

    /** Waits until nothing is in flight. */
    public boolean drain(long timeoutMillis) throws ErrnoException, BlkCheckException {
        return await(pending, timeoutMillis);
    }

    /** Interrupts signalled on the call eventfd since the last drain (its counter), 0 if none. */
    public long drainCall() throws ErrnoException {
        long n = Libc.read(callFd, eventBuffer, 8, "read call eventfd of queue " + queue);
        return n == 8 ? eventBuffer.get(JAVA_LONG, 0) : 0;
    }

    /** Closes the eventfds. */
    public void close() throws ErrnoException {
        Libc.close(kickFd);
        Libc.close(callFd);
    }

    @Override
    public String toString() {
        return "queue %d: avail %d, used(consumed) %d, used(memory) %d, in flight %d, completions %d"
                .formatted(queue, availIdx, lastUsed, usedIdxInMemory(), pending, completions);
    }
}
