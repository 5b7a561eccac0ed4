package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.VqState;
import io.vduse.api.virtio.PackedRing;
import io.vduse.virtqueue.VirtqueueException.Reason;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Chains popped by a device end that then went away are made again by a new device end, from the
 * descriptor table (split) or from copies of the ring descriptors taken at the pop (packed), while
 * other chains completed out of order and the driver filled the ring anew.
 */
class ResubmitTest {

    /** What a popped chain was, to compare with what resubmit makes. */
    private record Shape(int id, int slots, List<Long> addresses, List<Long> lengths, int readable) {
        static Shape of(DescriptorChain c) {
            List<Long> addresses = new ArrayList<>();
            List<Long> lengths = new ArrayList<>();
            for (int i = 0; i < c.bufferCount(); i++) {
                addresses.add(c.address(i));
                lengths.add(c.length(i));
            }
            return new Shape(c.id(), c.ringSlots(), addresses, lengths, c.readableCount());
        }
    }

    private static final int SIZE = 8;

    private static long[] iovas(int n, long base) {
        long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            a[i] = Rig.DATA + base + 0x1000L * i;
        }
        return a;
    }

    private static int[] lengths(int n) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = 100 + i;
        }
        return l;
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void chainsInFlightAreMadeAgainAfterOthersCompletedAndTheRingWasFilledAnew(boolean packed) {
        try (Rig rig = new Rig(SIZE, Rig.features(packed, true, true)); Arena arena = Arena.ofConfined()) {
            // Three chains: two direct ones of 3 and 2 descriptors, one through an indirect table.
            List<DescriptorChain> popped = new ArrayList<>();
            List<MemorySegment> copies = new ArrayList<>();
            int[][] shapes = {{2, 1}, {1, 1}};
            for (int[] shape : shapes) {
                int n = shape[0] + shape[1];
                popped.add(rig.popOne(iovas(n, 0x10000L * popped.size()), lengths(n), shape[0], shape[1]));
                copies.add(copy(rig, popped.getLast(), arena, packed));
            }
            long tableIova = Rig.TABLES;
            int id = rig.driver.addIndirect(iovas(4, 0x40000), lengths(4), 2, 2, tableIova,
                    rig.raw(tableIova, 4 * 16));
            assertThat(id).isNotNegative();
            DescriptorChain indirect = rig.device.newChain();
            assertThat(rig.device.pop(indirect)).isTrue();
            popped.add(indirect);
            copies.add(copy(rig, indirect, arena, packed));
            List<Shape> before = popped.stream().map(Shape::of).toList();

            // A one-descriptor chain completes ahead of all of them (on a packed ring its used
            // descriptor lands on the first chain's head), and the driver refills the ring, on a
            // packed ring over the first chain's slots again.
            DescriptorChain quick = rig.popOne(iovas(1, 0x50000), lengths(1), 0, 1);
            rig.device.push(quick, 1);
            assertThat(rig.device.publish()).isTrue();
            assertThat(rig.driver.pollUsed()).isEqualTo(quick.id());
            int refill1 = rig.driver.add(iovas(1, 0x60000), lengths(1), 0, 1);
            int refill2 = rig.driver.add(iovas(1, 0x70000), lengths(1), 0, 1);
            assertThat(refill1).isNotNegative();
            assertThat(refill2).isNotNegative();
            assertThat(rig.driver.freeDescriptors()).isZero();

            // A new device end starts where the old one stood and makes the three chains again.
            VqState state = rig.device.state();
            int usedIndex = rig.device.usedIndex();
            rig.reconnect(state);
            assertThat(rig.device.usedIndex()).isEqualTo(usedIndex);
            List<Shape> after = new ArrayList<>();
            List<DescriptorChain> again = new ArrayList<>();
            for (int i = 0; i < popped.size(); i++) {
                DescriptorChain c = rig.device.newChain();
                rig.device.resubmit(c, before.get(i).id(), copies.get(i), before.get(i).slots());
                after.add(Shape.of(c));
                again.add(c);
            }
            assertThat(after).isEqualTo(before);
            // They complete in another order than they came; the refills are popped as new chains.
            DescriptorChain fresh1 = rig.device.newChain();
            DescriptorChain fresh2 = rig.device.newChain();
            assertThat(rig.device.pop(fresh1)).isTrue();
            assertThat(rig.device.pop(fresh2)).isTrue();
            assertThat(rig.device.pop(rig.device.newChain())).isFalse();
            assertThat(List.of(fresh1.id(), fresh2.id())).containsExactly(refill1, refill2);
            rig.device.push(again.get(2), 3);
            rig.device.push(fresh1, 1);
            rig.device.push(again.get(0), 1);
            rig.device.push(fresh2, 1);
            rig.device.push(again.get(1), 2);
            rig.device.publish();
            List<Integer> ids = new ArrayList<>();
            for (int u; (u = rig.driver.pollUsed()) >= 0; ) {
                ids.add(u);
            }
            assertThat(ids).containsExactly(before.get(2).id(), refill1, before.get(0).id(), refill2,
                    before.get(1).id());
            assertThat(rig.driver.freeDescriptors()).isEqualTo(SIZE);
        }
    }

    @org.junit.jupiter.api.Test
    void packedCopiesThatDoNotMakeTheLoggedChainBreakTheQueue() {
        try (Rig rig = new Rig(SIZE, Rig.features(true, false, false)); Arena arena = Arena.ofConfined()) {
            DescriptorChain c = rig.popOne(iovas(3, 0), lengths(3), 1, 2);
            MemorySegment copies = copy(rig, c, arena, true);
            rig.reconnect(rig.device.state());
            DescriptorChain again = rig.device.newChain();
            assertThatThrownBy(() -> rig.device.resubmit(again, c.id(), copies, 2))
                    .isInstanceOf(VirtqueueException.class)
                    .extracting(e -> ((VirtqueueException) e).reason()).isEqualTo(Reason.CHAIN_TOO_LONG);
            rig.reconnect(rig.device.state());
            assertThatThrownBy(() -> rig.device.resubmit(rig.device.newChain(), c.id() + 1, copies, 3))
                    .isInstanceOf(VirtqueueException.class)
                    .extracting(e -> ((VirtqueueException) e).reason()).isEqualTo(Reason.BAD_STATE);
        }
    }

    @org.junit.jupiter.api.Test
    void splitRingsHaveNoCopiesToTakeAndRefuseAHeadOutOfRange() {
        try (Rig rig = new Rig(SIZE, Rig.features(false, false, false)); Arena arena = Arena.ofConfined()) {
            DescriptorChain c = rig.popOne(iovas(1, 0), lengths(1), 0, 1);
            assertThatThrownBy(() -> rig.device.copyRingDescriptor(c, 0, arena.allocate(16), 0))
                    .isInstanceOf(UnsupportedOperationException.class);
            assertThatThrownBy(() -> rig.device.resubmit(rig.device.newChain(), SIZE, null, 1))
                    .isInstanceOf(VirtqueueException.class)
                    .extracting(e -> ((VirtqueueException) e).reason())
                    .isEqualTo(Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE);
        }
    }

    private static MemorySegment copy(Rig rig, DescriptorChain chain, Arena arena, boolean packed) {
        if (!packed) {
            return null;
        }
        MemorySegment to = arena.allocate(chain.ringSlots() * PackedRing.DESC_SIZE);
        for (int i = 0; i < chain.ringSlots(); i++) {
            rig.device.copyRingDescriptor(chain, i, to, i * PackedRing.DESC_SIZE);
        }
        return to;
    }
}
