package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.vduse.api.Layouts;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A driver and a device taking turns over one {@link Rig}, single-threaded and seeded: the
 * driver adds random chains (direct and indirect) full of random bytes, the device pops them,
 * checks every byte, completes them out of order with random replies, and the driver checks
 * every byte of the replies. Both sides switch at random between sleeping (notifications on) and
 * busy polling (notifications off).
 *
 * <p>Every kick and interrupt decision is compared with an independent computation from the
 * suppression fields in ring memory: for an event index, "does any position the queue moved
 * through, counted without wrapping, fall on it". And nothing is ever lost: a sleeping device
 * never has chains it was not kicked for, a sleeping driver never has used chains it was not
 * interrupted for.
 */
final class Simulation {

    private static final int SLOT = 4096;
    private static final int TABLE_SLOT = 256;
    private static final int MAX_BUFFERS = 6;
    private static final int MAX_LEN = 500;

    private static final class Request {
        long[] iovas;
        int[] lengths;
        int readable;
        int writable;
        int slot;
        int ringSlots;
        byte[] readData;
        byte[] writeData;
        boolean popped;
        boolean pushed;
    }

    private final Rig rig;
    private final SplittableRandom rnd;
    private final boolean eventIdx;
    private final boolean indirect;
    private final int size;

    private final Request[] byId;
    private final int[] freeSlots;
    private int freeSlotCount;
    private final ArrayDeque<DescriptorChain> chainPool = new ArrayDeque<>();
    private final List<DescriptorChain> pending = new ArrayList<>();
    private final MemorySegment scratch = MemorySegment.ofArray(new byte[MAX_BUFFERS * MAX_LEN]);

    // Counters that never wrap: chains, and ring slots for the packed layout.
    long addedChains;
    long addedSlots;
    private long kickMark;
    long poppedChains;
    private long pushedUnits;
    private long publishedUnits;
    private long publishedChains;
    private long pushedChains;
    long polledChains;
    long kicks;
    long interrupts;
    long indirectChains;
    long reconnects;

    private boolean deviceKicked;
    private boolean devicePolling;
    private boolean driverInterrupted;
    private boolean driverPolling;

    Simulation(Rig rig, long seed, boolean eventIdx, boolean indirect) {
        this.rig = rig;
        this.rnd = new SplittableRandom(seed);
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        this.size = rig.size;
        this.byId = new Request[size];
        this.freeSlots = new int[size];
        for (int i = 0; i < size; i++) {
            freeSlots[freeSlotCount++] = i;
        }
        refillPool();
        // A sleeping driver asks for interrupts (with EVENT_IDX: at its next used position).
        assertThat(rig.driver.enableInterrupts()).isFalse();
        assertThat(rig.device.enableNotifications()).isFalse();
    }

    private void refillPool() {
        chainPool.clear();
        for (int i = 0; i < size; i++) {
            chainPool.push(rig.device.newChain());
        }
    }

    /** Runs until {@code chains} chains went there and back; reconnects the device now and then. */
    void run(long chains, long reconnectEvery) {
        long lastProgress = 0;
        int idle = 0;
        while (polledChains < chains) {
            int batch = rnd.nextInt(size + 1);
            boolean any = false;
            for (int i = 0; i < batch && addedChains < chains; i++) {
                if (!driverAddOne()) {
                    break;
                }
                any = true;
            }
            if (any) {
                driverKick();
            }
            deviceStep();
            driverStep();
            if (reconnectEvery > 0 && pending.isEmpty() && pushedUnits == publishedUnits
                    && rnd.nextLong(reconnectEvery) == 0) {
                reconnect();
            }
            long progress = addedChains + poppedChains + polledChains + pushedChains;
            if (progress == lastProgress) {
                if (++idle > 10_000) {
                    fail("no progress: added %d popped %d pushed %d published %d polled %d",
                            addedChains, poppedChains, pushedChains, publishedChains, polledChains);
                }
            } else {
                idle = 0;
                lastProgress = progress;
            }
        }
    }

    private void reconnect() {
        var state = rig.device.state();
        rig.reconnect(state);
        assertThat(rig.device.state()).isEqualTo(state);
        refillPool();
        reconnects++;
        if (devicePolling) {
            rig.device.disableNotifications();
        } else if (rig.device.enableNotifications()) {
            deviceKicked = true;
        }
    }

    // ---------------------------------------------------------------- driver

    private long slotBase(int slot) {
        // Slot size/2 straddles the boundary between the two data mappings.
        return Rig.DATA + Rig.DATA_HALF - SLOT / 2 - (long) (size / 2) * SLOT + (long) slot * SLOT;
    }

    private boolean driverAddOne() {
        if (freeSlotCount == 0) {
            return false;
        }
        int n = 1 + rnd.nextInt(Math.min(MAX_BUFFERS, size));
        Request r = new Request();
        r.readable = rnd.nextInt(n + 1);
        r.writable = n - r.readable;
        r.iovas = new long[n];
        r.lengths = new int[n];
        int slot = freeSlots[--freeSlotCount];
        r.slot = slot;
        long at = slotBase(slot);
        int readBytes = 0;
        for (int i = 0; i < n; i++) {
            at += rnd.nextInt(16);
            int len = rnd.nextInt(20) == 0 ? 0 : 1 + rnd.nextInt(MAX_LEN);
            r.iovas[i] = at;
            r.lengths[i] = len;
            at += len;
            if (i < r.readable) {
                readBytes += len;
            }
        }
        r.readData = new byte[readBytes];
        rnd.nextBytes(r.readData);
        int off = 0;
        for (int i = 0; i < r.readable; i++) {
            byte[] part = new byte[r.lengths[i]];
            System.arraycopy(r.readData, off, part, 0, part.length);
            rig.memory.copyIn(r.iovas[i], part);
            off += part.length;
        }
        boolean viaTable = indirect && rnd.nextInt(3) == 0;
        int id;
        if (viaTable) {
            long table = Rig.TABLES + (long) slot * TABLE_SLOT;
            id = rig.driver.addIndirect(r.iovas, r.lengths, r.readable, r.writable, table, rig.raw(table, 16L * n));
            r.ringSlots = 1;
        } else {
            id = rig.driver.add(r.iovas, r.lengths, r.readable, r.writable);
            r.ringSlots = n;
        }
        if (id < 0) {
            freeSlots[freeSlotCount++] = slot;
            return false;
        }
        assertThat(byId[id]).as("id %d handed out twice", id).isNull();
        byId[id] = r;
        addedChains++;
        addedSlots += r.ringSlots;
        if (viaTable) {
            indirectChains++;
        }
        return true;
    }

    private void driverKick() {
        long now = rig.packed ? addedSlots : addedChains;
        boolean expected = now > kickMark && expectedKick(kickMark, now);
        kickMark = now;
        boolean kick = rig.driver.kickPrepare();
        assertThat(kick).as("kick after adding up to %d", now).isEqualTo(expected);
        if (kick) {
            kicks++;
            deviceKicked = true;
        }
        // No lost wake-up: chains the device has not popped reach a device that is kicked or polling.
        if (!deviceKicked && !devicePolling) {
            assertThat(poppedChains).as("chains left with a sleeping device").isEqualTo(addedChains);
        }
    }

    private void driverStep() {
        if (driverInterrupted || driverPolling) {
            driverInterrupted = false;
            while (true) {
                if (!driverPolling) {
                    rig.driver.disableInterrupts();
                }
                pollAll();
                if (driverPolling || !rig.driver.enableInterrupts()) {
                    break;
                }
            }
        }
        if (rnd.nextInt(16) == 0) {
            driverPolling = !driverPolling;
            if (driverPolling) {
                rig.driver.disableInterrupts();
            } else if (rig.driver.enableInterrupts()) {
                driverInterrupted = true;
            }
        }
    }

    private void pollAll() {
        int id;
        while ((id = rig.driver.pollUsed()) >= 0) {
            Request r = byId[id];
            assertThat(r).as("used id %d", id).isNotNull();
            assertThat(r.pushed).as("id %d used before the device pushed it", id).isTrue();
            assertThat(rig.driver.usedLength()).isEqualTo(r.writeData.length);
            int off = 0;
            for (int i = r.readable; i < r.readable + r.writable && off < r.writeData.length; i++) {
                int n = Math.min(r.lengths[i], r.writeData.length - off);
                byte[] got = rig.memory.copyOut(r.iovas[i], n);
                for (int k = 0; k < n; k++) {
                    if (got[k] != r.writeData[off + k]) {
                        fail("id %d: written byte %d differs", id, off + k);
                    }
                }
                off += n;
            }
            byId[id] = null;
            freeSlots[freeSlotCount++] = r.slot;
            polledChains++;
        }
    }

    // ---------------------------------------------------------------- device

    private void deviceStep() {
        if (deviceKicked || devicePolling) {
            deviceKicked = false;
            while (true) {
                if (!devicePolling) {
                    rig.device.disableNotifications();
                }
                popAll();
                if (devicePolling || !rig.device.enableNotifications()) {
                    break;
                }
            }
        }
        int complete = pending.isEmpty() ? 0 : rnd.nextInt(pending.size() + 1);
        for (int i = 0; i < complete; i++) {
            complete(pending.remove(rnd.nextInt(pending.size())));
        }
        if (complete > 0) {
            publish();
        }
        if (rnd.nextInt(16) == 0) {
            devicePolling = !devicePolling;
            if (devicePolling) {
                rig.device.disableNotifications();
            } else if (rig.device.enableNotifications()) {
                deviceKicked = true;
            }
        }
    }

    private void popAll() {
        while (!chainPool.isEmpty()) {
            DescriptorChain chain = chainPool.pop();
            if (!rig.device.pop(chain)) {
                chainPool.push(chain);
                return;
            }
            poppedChains++;
            checkChain(chain);
            pending.add(chain);
        }
    }

    private void checkChain(DescriptorChain chain) {
        Request r = byId[chain.id()];
        assertThat(r).as("popped id %d", chain.id()).isNotNull();
        assertThat(r.popped).as("id %d popped twice", chain.id()).isFalse();
        r.popped = true;
        assertThat(chain.bufferCount()).isEqualTo(r.readable + r.writable);
        assertThat(chain.readableCount()).isEqualTo(r.readable);
        long writable = 0;
        for (int i = 0; i < r.readable + r.writable; i++) {
            assertThat(chain.address(i)).isEqualTo(r.iovas[i]);
            assertThat(chain.length(i)).isEqualTo(r.lengths[i]);
            if (i >= r.readable) {
                writable += r.lengths[i];
            }
        }
        assertThat(chain.readableLength()).isEqualTo(r.readData.length);
        assertThat(chain.writableLength()).isEqualTo(writable);
        readAll(chain.reader(), r.readData);
    }

    private void readAll(ChainReader reader, byte[] expected) {
        MemorySegment want = MemorySegment.ofArray(expected);
        int pos = 0;
        while (pos < expected.length) {
            int left = expected.length - pos;
            switch (rnd.nextInt(5)) {
                case 0 -> {
                    if (left >= 8) {
                        assertThat(reader.readLongLe()).isEqualTo(want.get(Layouts.LE64, pos));
                        pos += 8;
                    }
                }
                case 1 -> {
                    if (left >= 4) {
                        assertThat(reader.readIntLe()).isEqualTo(want.get(Layouts.LE32, pos));
                        pos += 4;
                    }
                }
                case 2 -> {
                    if (left >= 2) {
                        assertThat(reader.readShortLe()).isEqualTo(want.get(Layouts.LE16, pos));
                        pos += 2;
                    }
                }
                case 3 -> {
                    assertThat(reader.readByte()).isEqualTo(expected[pos]);
                    pos++;
                }
                default -> {
                    int n = 1 + rnd.nextInt(left);
                    reader.read(scratch, 0, n);
                    long mismatch = MemorySegment.mismatch(scratch, 0, n, want, pos, pos + n);
                    assertThat(mismatch).as("read bytes from %d", pos).isEqualTo(-1);
                    pos += n;
                }
            }
        }
        assertThat(reader.remaining()).isZero();
        assertThat(reader.bytesRead()).isEqualTo(expected.length);
    }

    private void complete(DescriptorChain chain) {
        Request r = byId[chain.id()];
        long writable = chain.writableLength();
        int written = rnd.nextInt(3) == 0 ? (int) writable : (int) rnd.nextLong(writable + 1);
        r.writeData = new byte[written];
        rnd.nextBytes(r.writeData);
        writeAll(chain.writer(), r.writeData);
        rig.device.push(chain, (int) chain.writer().bytesWritten());
        r.pushed = true;
        pushedChains++;
        pushedUnits += rig.packed ? r.ringSlots : 1;
        chainPool.push(chain);
    }

    private void writeAll(ChainWriter writer, byte[] data) {
        MemorySegment src = MemorySegment.ofArray(data);
        int pos = 0;
        while (pos < data.length) {
            int left = data.length - pos;
            switch (rnd.nextInt(5)) {
                case 0 -> {
                    if (left >= 8) {
                        writer.writeLongLe(src.get(Layouts.LE64, pos));
                        pos += 8;
                    }
                }
                case 1 -> {
                    if (left >= 4) {
                        writer.writeIntLe(src.get(Layouts.LE32, pos));
                        pos += 4;
                    }
                }
                case 2 -> {
                    if (left >= 2) {
                        writer.writeShortLe(src.get(Layouts.LE16, pos));
                        pos += 2;
                    }
                }
                case 3 -> {
                    writer.writeByte(data[pos]);
                    pos++;
                }
                default -> {
                    int n = 1 + rnd.nextInt(left);
                    writer.write(src, pos, n);
                    pos += n;
                }
            }
        }
        assertThat(writer.bytesWritten()).isEqualTo(data.length);
    }

    private void publish() {
        long old = publishedUnits;
        long now = pushedUnits;
        boolean expected = expectedInterrupt(old, now);
        boolean irq = rig.device.publish();
        assertThat(irq).as("interrupt for used %d..%d", old, now).isEqualTo(expected);
        publishedUnits = now;
        publishedChains = pushedChains;
        if (irq) {
            interrupts++;
            driverInterrupted = true;
        }
        // No lost interrupt: used chains reach a driver that is interrupted or polling.
        if (!driverInterrupted && !driverPolling) {
            assertThat(polledChains).as("used chains left with a sleeping driver").isEqualTo(publishedChains);
        }
    }

    // ------------------------------------------------- independent notification model

    /** Whether the driver must kick after moving its available position from {@code from} to {@code to}. */
    private boolean expectedKick(long from, long to) {
        if (rig.packed) {
            return packedEvent(rig.raw(rig.deviceIova, 4), from, to);
        }
        MemorySegment used = rig.raw(rig.deviceIova, rig.deviceAreaBytes);
        if (eventIdx) {
            return passes(Short.toUnsignedInt(used.get(Layouts.LE16, SplitRing.availEventOffset(size))), from, to);
        }
        return (used.get(Layouts.LE16, SplitRing.USED_FLAGS) & SplitRing.USED_F_NO_NOTIFY) == 0;
    }

    /** Whether the device must interrupt after moving its used position from {@code from} to {@code to}. */
    private boolean expectedInterrupt(long from, long to) {
        if (rig.packed) {
            return packedEvent(rig.raw(rig.driverIova, 4), from, to);
        }
        MemorySegment avail = rig.raw(rig.driverIova, SplitRing.availRingSize(size));
        if (eventIdx) {
            return passes(Short.toUnsignedInt(avail.get(Layouts.LE16, SplitRing.usedEventOffset(size))), from, to);
        }
        return (avail.get(Layouts.LE16, SplitRing.AVAIL_FLAGS) & SplitRing.AVAIL_F_NO_INTERRUPT) == 0;
    }

    /** Split: does some index in [from, to), taken modulo 2^16, equal the event index. */
    private static boolean passes(int event, long from, long to) {
        for (long k = from; k < to; k++) {
            if ((k & 0xffff) == event) {
                return true;
            }
        }
        return false;
    }

    /**
     * Packed: the area's flags; for DESC, does some slot in [from, to), counted from the start
     * of the ring, sit at the named offset in a lap whose wrap counter is the named one (the
     * counter is 1 in lap 0 and flips every lap).
     */
    private boolean packedEvent(MemorySegment area, long from, long to) {
        int flags = Short.toUnsignedInt(area.get(Layouts.LE16, PackedRing.EVENT_FLAGS));
        if (flags == PackedRing.EVENT_FLAGS_DISABLE) {
            return false;
        }
        if (flags != PackedRing.EVENT_FLAGS_DESC) {
            return true;
        }
        int offWrap = Short.toUnsignedInt(area.get(Layouts.LE16, PackedRing.EVENT_OFF_WRAP));
        int off = offWrap & 0x7fff;
        int wrap = offWrap >>> 15;
        for (long k = from; k < to; k++) {
            int lapWrap = ((k / size) & 1) == 0 ? 1 : 0;
            if (k % size == off && lapWrap == wrap) {
                return true;
            }
        }
        return false;
    }
}
