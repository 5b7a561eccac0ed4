package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.vduse.api.Layouts;
import io.vduse.api.VqState;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.iova.Access;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Random ring memory, random indexes and random device state, a million cases per layout: the
 * device side pops, reads, writes, pushes and publishes, and may only ever throw
 * {@link VirtqueueException}; it never hangs; it never writes a read-only mapping; and it
 * writes nothing in the ring area but the used ring (split) or the descriptor ring and its own
 * event suppression area (packed). Every pop is compared with {@link ChainModel}: the same chain
 * (id, addresses, lengths, directions) or the same rejection.
 *
 * <p>Descriptors are drawn from distributions that reach deep (addresses near and across
 * mapping edges, table lengths that are multiples of 16, mostly-available flags), and the data
 * pages, where indirect tables land, are refilled with such descriptors every few thousand cases.
 */
class RingFuzzTest {

    private static final int CASES = 1_000_000;
    private static final long RING = 0x1000;
    private static final long RO = 0x4000;
    private static final long RW = 0x5000;
    private static final long WO = 0x7000;
    private static final int PAGE = 4096;
    private static final int RING_BYTES = 0x300;

    private static final long DESC = RING;
    private static final long SPLIT_AVAIL = RING + 0x100;
    private static final long SPLIT_USED = RING + 0x200;
    private static final long PACKED_DRIVER = RING + 0x100;
    private static final long PACKED_DEVICE = RING + 0x104;

    private static final int[] SPLIT_SIZES = {1, 2, 4, 8, 16};
    private static final int[] PACKED_SIZES = {1, 2, 3, 5, 8, 16};

    @Test
    void splitRingSurvivesRandomMemory() {
        fuzz(false, SPLIT_SIZES, 0xf00d_0001L);
    }

    @Test
    void packedRingSurvivesRandomMemory() {
        fuzz(true, PACKED_SIZES, 0xf00d_0002L);
    }

    private static void fuzz(boolean packed, int[] sizes, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<VirtqueueException.Reason, Long> reasons = new EnumMap<>(VirtqueueException.Reason.class);
        long chains = 0;
        try (TestMemory memory = new TestMemory()) {
            memory.map(RING, PAGE, Access.READ_WRITE).map(RO, PAGE, Access.READ).map(RW, PAGE, Access.READ_WRITE)
                    .map(WO, PAGE, Access.WRITE);
            MemorySegment ring = memory.raw(RING, RING_BYTES);
            MemorySegment readOnly = memory.raw(RO, PAGE);
            byte[] ringBefore = new byte[RING_BYTES];
            byte[] readOnlyBefore = new byte[PAGE];
            MemorySegment sink = MemorySegment.ofArray(new byte[3 * PAGE]);
            long features = Rig.features(packed, true, true);
            DeviceQueue[] queues = new DeviceQueue[sizes.length];
            DescriptorChain[] chainOf = new DescriptorChain[sizes.length];
            for (int i = 0; i < sizes.length; i++) {
                queues[i] = packed
                        ? DeviceQueue.create(memory, sizes[i], DESC, PACKED_DRIVER, PACKED_DEVICE, features, null)
                        : DeviceQueue.create(memory, sizes[i], DESC, SPLIT_AVAIL, SPLIT_USED, features, null);
                chainOf[i] = queues[i].newChain();
            }
            for (int c = 0; c < CASES; c++) {
                if (c % 4096 == 0) {
                    fillWithDescriptors(memory, rnd, packed);
                    MemorySegment.copy(readOnly, ValueLayout.JAVA_BYTE, 0, readOnlyBefore, 0, PAGE);
                }
                int q = rnd.nextInt(sizes.length);
                int size = sizes[q];
                DeviceQueue queue = queues[q];
                DescriptorChain chain = chainOf[q];
                VqState state = packed ? randomRing(ring, rnd, size) : randomSplitRing(ring, rnd, size);
                MemorySegment.copy(ring, ValueLayout.JAVA_BYTE, 0, ringBefore, 0, RING_BYTES);
                ChainModel model = packed
                        ? new ChainModel(memory, ring, RING, size, true, DESC, PACKED_DRIVER, PACKED_DEVICE)
                        : new ChainModel(memory, ring, RING, size, false, DESC, SPLIT_AVAIL, SPLIT_USED);
                try {
                    runCase(queue, chain, model, state, rnd, sink, reasons, size);
                    chains += model.popped;
                } catch (Throwable t) {
                    throw new AssertionError("case %d (seed %x, size %d): %s".formatted(c, seed, size, t), t);
                }
                checkUntouched(packed, size, ring, ringBefore, readOnly, readOnlyBefore, c);
            }
        }
        System.out.printf("%s fuzz: %d cases, %d chains popped, errors %s%n",
                packed ? "packed" : "split", CASES, chains, reasons);
        // The distributions reach both clean chains and every kind of rejection they can produce.
        assertThat(chains).isGreaterThan(CASES / 8);
        assertThat(reasons).containsKeys(VirtqueueException.Reason.NESTED_INDIRECT,
                VirtqueueException.Reason.INDIRECT_TABLE_EMPTY, VirtqueueException.Reason.INDIRECT_TABLE_MISALIGNED,
                VirtqueueException.Reason.READABLE_AFTER_WRITABLE, VirtqueueException.Reason.IOVA_FAULT,
                VirtqueueException.Reason.ADDRESS_OVERFLOW, VirtqueueException.Reason.CHAIN_TOO_LONG,
                VirtqueueException.Reason.INDIRECT_WITH_NEXT, VirtqueueException.Reason.LENGTH_OVERFLOW);
        if (!packed) {
            assertThat(reasons).containsKeys(VirtqueueException.Reason.DESCRIPTOR_LOOP,
                    VirtqueueException.Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE, VirtqueueException.Reason.AVAIL_INDEX_TOO_FAR);
        }
    }

    /** One case: reset to the random state, then pops compared one by one with the model. */
    private static void runCase(DeviceQueue queue, DescriptorChain chain, ChainModel model, VqState state,
            SplittableRandom rnd, MemorySegment sink, Map<VirtqueueException.Reason, Long> reasons, int size) {
        int usedInRing = model.splitUsedInRing();
        try {
            queue.reset(state);
        } catch (VirtqueueException e) {
            assertThat(e.reason()).isEqualTo(VirtqueueException.Reason.BAD_STATE);
            assertThat(queue.failure()).isSameAs(e);
            reasons.merge(e.reason(), 1L, Long::sum);
            return;
        }
        if (state instanceof VqState.Split split) {
            model.lastAvail = split.availIndex();
            model.publishedUsed = usedInRing;
        } else {
            VqState.Packed p = (VqState.Packed) state;
            model.availIdx = p.lastAvailIdx();
            model.availWrap = p.lastAvailCounter() == 1;
        }
        if (rnd.nextBoolean()) {
            queue.enableNotifications();
        } else {
            queue.disableNotifications();
        }
        int pops = 1 + rnd.nextInt(size + 2);
        int pushed = 0;
        for (int p = 0; p < pops; p++) {
            ChainModel.Outcome want = model.next();
            boolean got;
            try {
                got = queue.pop(chain);
            } catch (VirtqueueException e) {
                assertThat(e.reason()).as("pop %d: %s, model said %s", p, e.getMessage(), want).isEqualTo(want.reason());
                assertThat(queue.failure()).isSameAs(e);
                reasons.merge(e.reason(), 1L, Long::sum);
                return;
            }
            assertThat(want.reason()).as("pop %d accepted what the model rejects", p).isNull();
            assertThat(got).as("pop %d", p).isEqualTo(!want.empty());
            if (!got) {
                break;
            }
            model.popped++;
            checkChain(chain, size);
            assertThat(chain.id()).isEqualTo(want.id());
            assertThat(chain.bufferCount()).isEqualTo(want.buffers().size());
            for (int i = 0; i < chain.bufferCount(); i++) {
                long[] b = want.buffers().get(i);
                assertThat(chain.address(i)).isEqualTo(b[0]);
                assertThat(chain.length(i)).isEqualTo(b[1]);
                assertThat(chain.isWritable(i)).isEqualTo(b[2] == 1);
            }
            try {
                exercise(chain, rnd, sink);
            } catch (VirtqueueException e) {
                // Buffers are translated as they are used: an unmapped or forbidden one shows here.
                assertThat(e.reason()).isEqualTo(VirtqueueException.Reason.IOVA_FAULT);
                assertThat(queue.failure()).isSameAs(e);
                reasons.merge(e.reason(), 1L, Long::sum);
                return;
            }
            queue.push(chain, (int) chain.writer().bytesWritten());
            pushed++;
            if (rnd.nextInt(3) == 0) {
                queue.publish();
                model.publishedUsed = (usedInRing + pushed) & 0xffff;
            }
        }
        queue.publish();
    }

    private static void checkChain(DescriptorChain chain, int size) {
        assertThat(chain.bufferCount()).isBetween(1, size);
        assertThat(chain.readableLength() + chain.writableLength()).isLessThanOrEqualTo(0xffff_ffffL);
        for (int i = 0; i < chain.bufferCount(); i++) {
            assertThat(chain.isWritable(i)).isEqualTo(i >= chain.readableCount());
        }
    }

    /** Reads and writes everything until done or until a fault; lengths may be huge. */
    private static void exercise(DescriptorChain chain, SplittableRandom rnd, MemorySegment sink) {
        ChainReader reader = chain.reader();
        if (reader.remaining() >= 8 && rnd.nextBoolean()) {
            reader.readLongLe();
        }
        while (reader.remaining() > 0) {
            reader.read(sink, 0, Math.min(reader.remaining(), sink.byteSize()));
        }
        ChainWriter writer = chain.writer();
        if (writer.remaining() >= 4 && rnd.nextBoolean()) {
            writer.writeIntLe(rnd.nextInt());
        }
        long toWrite = rnd.nextBoolean() ? writer.remaining() : rnd.nextLong(writer.remaining() + 1);
        while (toWrite > 0) {
            long n = Math.min(toWrite, sink.byteSize());
            writer.write(sink, 0, n);
            toWrite -= n;
        }
    }

    private static void checkUntouched(boolean packed, int size, MemorySegment ring, byte[] ringBefore,
            MemorySegment readOnly, byte[] readOnlyBefore, int c) {
        MemorySegment before = MemorySegment.ofArray(ringBefore);
        if (packed) {
            // Allowed: descriptor write-back [0, 16 * size) and the device event area.
            compare(before, ring, 16L * size, PACKED_DEVICE - RING, c);
            compare(before, ring, PACKED_DEVICE + 4 - RING, RING_BYTES, c);
        } else {
            // Allowed: the used ring.
            long usedFrom = SPLIT_USED - RING;
            compare(before, ring, 0, usedFrom, c);
            compare(before, ring, usedFrom + SplitRing.usedRingSize(size), RING_BYTES, c);
        }
        if (MemorySegment.ofArray(readOnlyBefore).mismatch(readOnly) >= 0) {
            fail("case %d: read-only mapping written", c);
        }
    }

    private static void compare(MemorySegment before, MemorySegment ring, long from, long to, int c) {
        if (from < to) {
            long at = MemorySegment.mismatch(before, from, to, ring, from, to);
            if (at >= 0) {
                fail("case %d: ring byte at offset %d written, outside what the device may write", c, from + at);
            }
        }
    }

    // ---------------------------------------------------------------- generators

    private static long address(SplittableRandom rnd) {
        return switch (rnd.nextInt(10)) {
            case 0 -> rnd.nextLong();
            case 1 -> -1L - rnd.nextInt(64);
            case 2 -> RO + PAGE - rnd.nextInt(64);
            case 3 -> RW + PAGE - rnd.nextInt(64);
            case 4 -> WO + rnd.nextInt(PAGE);
            default -> RO + rnd.nextInt(2 * PAGE);
        };
    }

    private static int length(SplittableRandom rnd, int size) {
        return switch (rnd.nextInt(8)) {
            case 0 -> 0;
            case 1 -> rnd.nextInt();
            case 2 -> 0xffff_fff0 + rnd.nextInt(16);
            case 3, 4 -> 16 * (1 + rnd.nextInt(size + 2));
            default -> 1 + rnd.nextInt(300);
        };
    }

    private static void putSplitDesc(MemorySegment s, long off, SplittableRandom rnd, int size) {
        int flags = rnd.nextInt(8) == 0 ? rnd.nextInt(0x10000) : rnd.nextInt(8) & (rnd.nextInt(3) == 0 ? 7 : 3);
        int next = rnd.nextInt(10) == 0 ? rnd.nextInt(0x10000) : rnd.nextInt(size + 1);
        s.set(Layouts.LE64, off + SplitRing.DESC_ADDR, address(rnd));
        s.set(Layouts.LE32, off + SplitRing.DESC_LEN, length(rnd, size));
        s.set(Layouts.LE16, off + SplitRing.DESC_FLAGS, (short) flags);
        s.set(Layouts.LE16, off + SplitRing.DESC_NEXT, (short) next);
    }

    private static void putPackedDesc(MemorySegment s, long off, SplittableRandom rnd, int size, boolean wrap) {
        int flags = rnd.nextInt(3) == 0 ? PackedRing.DESC_F_NEXT : 0;
        flags |= rnd.nextBoolean() ? PackedRing.DESC_F_WRITE : 0;
        flags |= rnd.nextInt(6) == 0 ? PackedRing.DESC_F_INDIRECT : 0;
        flags |= switch (rnd.nextInt(6)) {
            case 0 -> rnd.nextInt(0x10000);
            case 1 -> wrap ? PackedRing.DESC_F_USED : PackedRing.DESC_F_AVAIL;
            default -> wrap ? PackedRing.DESC_F_AVAIL : PackedRing.DESC_F_USED;
        };
        s.set(Layouts.LE64, off + PackedRing.DESC_ADDR, address(rnd));
        s.set(Layouts.LE32, off + PackedRing.DESC_LEN, length(rnd, size));
        s.set(Layouts.LE16, off + PackedRing.DESC_ID, (short) rnd.nextInt(0x10000));
        s.set(Layouts.LE16, off + PackedRing.DESC_FLAGS, (short) flags);
    }

    /** Fills the data pages with plausible descriptors, so indirect tables pointing there go deep. */
    private static void fillWithDescriptors(TestMemory memory, SplittableRandom rnd, boolean packed) {
        for (long page : new long[] {RO, RW, WO}) {
            MemorySegment s = memory.raw(page, PAGE);
            for (long off = 0; off < PAGE; off += 16) {
                if (packed) {
                    putPackedDesc(s, off, rnd, 16, rnd.nextBoolean());
                } else {
                    putSplitDesc(s, off, rnd, 16);
                }
            }
        }
    }

    private static VqState randomSplitRing(MemorySegment ring, SplittableRandom rnd, int size) {
        for (int i = 0; i < size; i++) {
            putSplitDesc(ring, i * 16L, rnd, size);
        }
        int used = rnd.nextInt(0x10000);
        int consumed = rnd.nextInt(size + 1);
        int lastAvail = (used + consumed) & 0xffff;
        int availIdx = rnd.nextInt(12) == 0 ? rnd.nextInt(0x10000) : (lastAvail + rnd.nextInt(size - consumed + 1)) & 0xffff;
        long avail = SPLIT_AVAIL - RING;
        ring.set(Layouts.LE16, avail + SplitRing.AVAIL_FLAGS, (short) rnd.nextInt(4));
        ring.set(Layouts.LE16, avail + SplitRing.AVAIL_IDX, (short) availIdx);
        for (int i = 0; i < size; i++) {
            int head = rnd.nextInt(10) == 0 ? rnd.nextInt(0x10000) : rnd.nextInt(size + 1);
            ring.set(Layouts.LE16, avail + SplitRing.AVAIL_RING + 2L * i, (short) head);
        }
        ring.set(Layouts.LE16, avail + SplitRing.usedEventOffset(size), (short) rnd.nextInt(0x10000));
        long usedRing = SPLIT_USED - RING;
        ring.set(Layouts.LE16, usedRing + SplitRing.USED_IDX, (short) used);
        return new VqState.Split(rnd.nextInt(16) == 0 ? rnd.nextInt(0x10000) : lastAvail);
    }

    private static VqState randomRing(MemorySegment ring, SplittableRandom rnd, int size) {
        int availPos = rnd.nextInt(2 * size);
        int usedPos = Math.floorMod(availPos - rnd.nextInt(size + 1), 2 * size);
        if (rnd.nextInt(16) == 0) {
            usedPos = rnd.nextInt(2 * size);
        }
        boolean availWrap = availPos < size;
        for (int i = 0; i < size; i++) {
            // Slots from the available position on carry the current lap's bits, earlier ones the next lap's.
            boolean wrap = i >= availPos % size ? availWrap : !availWrap;
            putPackedDesc(ring, i * 16L, rnd, size, wrap);
        }
        ring.set(Layouts.LE32, PACKED_DRIVER - RING, rnd.nextInt());
        ring.set(Layouts.LE32, PACKED_DEVICE - RING, rnd.nextInt());
        return new VqState.Packed(availWrap ? 1 : 0, availPos % size, usedPos < size ? 1 : 0, usedPos % size);
    }
}
