package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.Layouts;
import io.vduse.api.VqState;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.iova.Access;
import io.vduse.virtqueue.VirtqueueException.Reason;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Batching, state for reconnecting, notification suppression and setup checks, on both layouts. */
class QueueBehaviourTest {

    private static final long[] ONE_BUFFER = {Rig.DATA};
    private static final int[] LENGTH_64 = {64};

    private static void addWritable(Rig rig, int n) {
        for (int i = 0; i < n; i++) {
            assertThat(rig.driver.add(ONE_BUFFER, LENGTH_64, 0, 1)).isNotNegative();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void usedElementsBecomeVisibleAtPublishOnly(boolean packed) {
        try (Rig rig = new Rig(4, Rig.features(packed, true, false))) {
            addWritable(rig, 3);
            DescriptorChain[] chains = {rig.device.newChain(), rig.device.newChain(), rig.device.newChain()};
            for (DescriptorChain c : chains) {
                assertThat(rig.device.pop(c)).isTrue();
            }
            assertThat(rig.device.pop(rig.device.newChain())).isFalse();
            // Completed out of order.
            rig.device.push(chains[2], 3);
            rig.device.push(chains[0], 1);
            rig.device.push(chains[1], 2);
            assertThat(rig.driver.pollUsed()).as("nothing before publish").isEqualTo(-1);
            if (!packed) {
                assertThat(rig.raw(rig.deviceIova, 4).get(Layouts.LE16, SplitRing.USED_IDX)).isZero();
            }
            assertThat(rig.device.publish()).isTrue();
            assertThat(rig.device.publish()).as("nothing new to publish").isFalse();
            int[] lengths = new int[3];
            int[] ids = new int[3];
            for (int i = 0; i < 3; i++) {
                ids[i] = rig.driver.pollUsed();
                lengths[i] = rig.driver.usedLength();
            }
            assertThat(ids).containsExactly(chains[2].id(), chains[0].id(), chains[1].id());
            assertThat(lengths).containsExactly(3, 1, 2);
            assertThat(rig.driver.pollUsed()).isEqualTo(-1);
            assertThat(rig.driver.freeDescriptors()).isEqualTo(4);
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void stateAllowsAReconnectedDeviceToGoOn(boolean packed) {
        try (Rig rig = new Rig(3 + (packed ? 0 : 1), Rig.features(packed, false, false))) {
            DescriptorChain chain = rig.device.newChain();
            // Seven chains, each completed at once: the ring wraps twice (packed size 3).
            for (int i = 0; i < 7; i++) {
                addWritable(rig, 1);
                assertThat(rig.device.pop(chain)).isTrue();
                rig.device.push(chain, i);
                rig.device.publish();
                assertThat(rig.driver.pollUsed()).isNotNegative();
            }
            addWritable(rig, 2);
            assertThat(rig.device.pop(chain)).isTrue();
            rig.device.push(chain, 0);
            rig.device.publish();
            assertThat(rig.driver.pollUsed()).isNotNegative();
            VqState state = rig.device.state();
            if (packed) {
                // 8 popped slots of 3: position 2 in lap 2 (counter 1); the same for used.
                assertThat(state).isEqualTo(new VqState.Packed(1, 2, 1, 2));
            } else {
                assertThat(state).isEqualTo(new VqState.Split(8));
            }
            rig.reconnect(state);
            DescriptorChain again = rig.device.newChain();
            assertThat(rig.device.pop(again)).isTrue();
            assertThat(rig.device.pop(again)).isFalse();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void flagSuppressionWithoutEventIdx(boolean packed) {
        try (Rig rig = new Rig(4, Rig.features(packed, false, false))) {
            rig.device.disableNotifications();
            addWritable(rig, 1);
            assertThat(rig.driver.kickPrepare()).as("device asked for no kicks").isFalse();
            // Re-enabling finds the chain that came while kicks were off.
            assertThat(rig.device.enableNotifications()).isTrue();
            addWritable(rig, 1);
            assertThat(rig.driver.kickPrepare()).isTrue();
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            rig.driver.disableInterrupts();
            rig.device.push(chain, 0);
            assertThat(rig.device.publish()).as("driver asked for no interrupts").isFalse();
            assertThat(rig.driver.enableInterrupts()).as("the used chain is found on re-enabling").isTrue();
            assertThat(rig.device.pop(chain)).isTrue();
            rig.device.push(chain, 0);
            assertThat(rig.device.publish()).isTrue();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void eventIdxFieldsSayWhereTheDeviceIs(boolean packed) {
        try (Rig rig = new Rig(4, Rig.features(packed, true, false))) {
            addWritable(rig, 3);
            DescriptorChain chain = rig.device.newChain();
            for (int i = 0; i < 3; i++) {
                assertThat(rig.device.pop(chain)).isTrue();
            }
            assertThat(rig.device.enableNotifications()).isFalse();
            if (packed) {
                var area = rig.raw(rig.deviceIova, 4);
                assertThat(area.get(Layouts.LE16, PackedRing.EVENT_FLAGS)).isEqualTo((short) PackedRing.EVENT_FLAGS_DESC);
                assertThat(area.get(Layouts.LE16, PackedRing.EVENT_OFF_WRAP)).isEqualTo((short) (0x8000 | 3));
            } else {
                var used = rig.raw(rig.deviceIova, rig.deviceAreaBytes);
                assertThat(used.get(Layouts.LE16, SplitRing.availEventOffset(4))).isEqualTo((short) 3);
            }
            // The next chain lands on avail_event / off_wrap: kick.
            addWritable(rig, 1);
            assertThat(rig.driver.kickPrepare()).isTrue();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void stateOfTheOtherLayoutIsRefused(boolean packed) {
        try (Rig rig = new Rig(4, Rig.features(packed, false, false))) {
            VqState wrong = packed ? new VqState.Split(0) : new VqState.Packed(1, 0, 1, 0);
            assertThatThrownBy(() -> rig.reconnect(wrong)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void badRingSetupIsRefused(boolean packed) {
        try (Rig rig = new Rig(4, Rig.features(packed, false, false))) {
            long f = rig.features;
            assertThatThrownBy(() -> DeviceQueue.create(rig.memory, 4, rig.descIova + 8, rig.driverIova, rig.deviceIova, f, null))
                    .isInstanceOfSatisfying(VirtqueueException.class, e -> assertThat(e.reason()).isEqualTo(Reason.BAD_RING_SETUP));
            assertThatThrownBy(() -> DeviceQueue.create(rig.memory, 4, 0x9000_0000L, rig.driverIova, rig.deviceIova, f, null))
                    .isInstanceOfSatisfying(VirtqueueException.class, e -> assertThat(e.reason()).isEqualTo(Reason.IOVA_FAULT));
            rig.memory.map(0x800000, 4096, Access.READ);
            // The device area is written by the device: a read-only mapping will not do.
            assertThatThrownBy(() -> DeviceQueue.create(rig.memory, 4, rig.descIova, rig.driverIova, 0x800000, f, null))
                    .isInstanceOfSatisfying(VirtqueueException.class, e -> assertThat(e.reason()).isEqualTo(Reason.IOVA_FAULT));
            int badSize = packed ? 0 : 6;
            assertThatThrownBy(() -> DeviceQueue.create(rig.memory, badSize, rig.descIova, rig.driverIova, rig.deviceIova, f, null))
                    .isInstanceOfSatisfying(VirtqueueException.class, e -> assertThat(e.reason()).isEqualTo(Reason.BAD_RING_SETUP));
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void deviceMistakesAreNotDriverErrors(boolean packed) {
        try (Rig rig = new Rig(4, Rig.features(packed, false, false))) {
            addWritable(rig, 1);
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            assertThatThrownBy(() -> rig.device.push(chain, 65)).isInstanceOf(IllegalArgumentException.class);
            rig.device.push(chain, 64);
            assertThatThrownBy(() -> rig.device.push(chain, 0)).isInstanceOf(IllegalStateException.class);
            assertThat(rig.device.failure()).isNull();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void driverRefusesChainsLongerThanTheQueue(boolean packed) {
        try (Rig rig = new Rig(2, Rig.features(packed, false, true))) {
            long[] iovas = {Rig.DATA, Rig.DATA + 64, Rig.DATA + 128};
            int[] lengths = {8, 8, 8};
            assertThatThrownBy(() -> rig.driver.add(iovas, lengths, 1, 2)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> rig.driver.addIndirect(iovas, lengths, 1, 2, Rig.TABLES, rig.raw(Rig.TABLES, 48)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(rig.driver.freeDescriptors()).isEqualTo(2);
            // Through a table, two buffers take one descriptor: the second chain still fits.
            assertThat(rig.driver.addIndirect(iovas, lengths, 1, 1, Rig.TABLES, rig.raw(Rig.TABLES, 32))).isNotNegative();
            assertThat(rig.driver.add(iovas, lengths, 0, 1)).isNotNegative();
            assertThat(rig.driver.add(iovas, lengths, 0, 1)).isEqualTo(-1);
        }
    }
}
