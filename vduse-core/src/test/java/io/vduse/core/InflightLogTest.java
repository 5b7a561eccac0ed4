package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.VduseVqInfo;
import io.vduse.api.VqState;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.iova.Access;
import io.vduse.iova.IovaMemory;
import io.vduse.iova.Mapping;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.DriverQueue;
import io.vduse.virtqueue.VirtqueueException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One queue's in-flight log against a driver end and a device end over the same memory, the
 * device's process killed at a chosen step: what recovery makes of each case, the order of
 * resubmission, and logs that do not fit the ring.
 */
class InflightLogTest {

    private static final int SIZE = 8;
    private static final long BASE = 0x10_0000;
    private static final long DESC = BASE;
    private static final long DRIVER = BASE + 0x1000;
    private static final long DEVICE = BASE + 0x2000;
    private static final long DATA = BASE + 0x4000;

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment memory = arena.allocate(0x20000, 4096);
    private final IovaMemory iova = new IovaMemory() {
        @Override
        public Mapping mapping(long address, Access access) {
            if (address < BASE || address >= BASE + memory.byteSize()) {
                throw new io.vduse.iova.IovaFault(io.vduse.iova.IovaFault.Reason.UNMAPPED, address, 1, access);
            }
            return new Mapping(BASE, BASE + memory.byteSize() - 1, Access.READ_WRITE, memory);
        }
    };

    private boolean packed;
    private long features;
    private DriverQueue driver;
    private DeviceQueue device;
    private InflightLog log;

    /** The step to kill at, and how many of them to let pass first. */
    private InflightLog.Step killAt;
    private int killAfter;

    private static final class Killed extends RuntimeException {
        private static final long serialVersionUID = 1L;
    }

    @AfterEach
    void close() {
        arena.close();
    }

    private void setUp(boolean packedRing) throws Exception {
        packed = packedRing;
        features = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        driver = DriverQueue.create(SIZE, slice(DESC, 16 * SIZE), slice(DRIVER, packed ? 4 : SplitRing.availRingSize(SIZE)),
                slice(DEVICE, packed ? 4 : SplitRing.usedRingSize(SIZE)), features);
        device = DeviceQueue.create(iova, SIZE, DESC, DRIVER, DEVICE, features, null);
        log = InflightLog.create(file(), SIZE, vq(), device, this::step);
    }

    private void step(InflightLog.Step step) {
        if (step == killAt && killAfter-- == 0) {
            killAt = null;
            throw new Killed();
        }
    }

    private Path file() {
        return dir.resolve("queue-0.inflight");
    }

    private VduseVqInfo vq() {
        return new VduseVqInfo(0, SIZE, DESC, DRIVER, DEVICE, packed ? new VqState.Packed(1, 0, 1, 0)
                : new VqState.Split(0), true);
    }

    private MemorySegment slice(long address, long length) {
        return memory.asSlice(address - BASE, length);
    }

    /** Makes {@code n} one-buffer chains available; their buffers say which request they are. */
    private List<Integer> offer(int n) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int id = driver.add(new long[] {DATA + 0x100L * i}, new int[] {16}, 0, 1);
            assertThat(id).isNotNegative();
            ids.add(id);
        }
        return ids;
    }

    /** Three one-buffer requests made available and popped, in this order. */
    private DescriptorChain a;
    private DescriptorChain b;
    private DescriptorChain c;

    private void takeThree() {
        offer(3);
        a = pop();
        b = pop();
        c = pop();
    }

    private DescriptorChain pop() {
        DescriptorChain chain = device.newChain();
        assertThat(log.pop(chain)).isTrue();
        return chain;
    }

    /** The process dies here: a new device end over the same memory, from what the log says. */
    private void takeOver() throws Exception {
        InflightLog recovered = InflightLog.recover(file(), vq(), packed, iova, this::step);
        assertThat(recovered).isNotNull();
        device = DeviceQueue.create(iova, SIZE, DESC, DRIVER, DEVICE, features, recovered.recoveredState());
        log = recovered.bind(device);
    }

    private List<DescriptorChain> resubmitted() {
        List<DescriptorChain> chains = new ArrayList<>();
        while (log.hasResubmission()) {
            DescriptorChain chain = device.newChain();
            log.resubmit(chain);
            chains.add(chain);
        }
        return chains;
    }

    private List<Integer> used() {
        List<Integer> ids = new ArrayList<>();
        for (int id; (id = driver.pollUsed()) >= 0; ) {
            ids.add(id);
        }
        return ids;
    }

    private static List<Integer> ids(List<DescriptorChain> chains) {
        return chains.stream().map(DescriptorChain::id).toList();
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aBatchAnnouncedButNotPublishedIsServedAgain(boolean packedRing) throws Exception {
        setUp(packedRing);
        takeThree();
        log.push(c, 1);
        log.push(b, 1);
        killAt = InflightLog.Step.ANNOUNCED;
        assertThatThrownBy(log::publish).isInstanceOf(Killed.class);
        assertThat(used()).isEmpty();
        takeOver();
        List<DescriptorChain> again = resubmitted();
        assertThat(ids(again)).containsExactly(a.id(), b.id(), c.id());
        log.push(again.get(1), 1);
        log.publish();
        assertThat(used()).containsExactly(b.id());
        log.push(again.get(0), 1);
        log.push(again.get(2), 1);
        log.publish();
        assertThat(used()).containsExactly(a.id(), c.id());
        assertThat(driver.freeDescriptors()).isEqualTo(SIZE);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aBatchPublishedButNotClearedIsNotServedAgain(boolean packedRing) throws Exception {
        setUp(packedRing);
        takeThree();
        log.push(b, 1);
        killAt = InflightLog.Step.PUBLISHED;
        assertThatThrownBy(log::publish).isInstanceOf(Killed.class);
        takeOver();
        assertThat(used()).containsExactly(b.id());
        // The driver takes the completion and makes its buffer available again before the take-over ends.
        List<Integer> next = offer(1);
        List<DescriptorChain> again = resubmitted();
        assertThat(ids(again)).containsExactly(a.id(), c.id());
        DescriptorChain fresh = pop();
        assertThat(fresh.id()).isEqualTo(next.getFirst());
        log.push(fresh, 1);
        log.push(again.get(1), 1);
        log.push(again.get(0), 1);
        log.publish();
        assertThat(used()).containsExactly(fresh.id(), c.id(), a.id());
        assertThat(driver.freeDescriptors()).isEqualTo(SIZE);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aBatchPublishedAndPartlyClearedIsNotServedAgain(boolean packedRing) throws Exception {
        setUp(packedRing);
        takeThree();
        log.push(c, 1);
        log.push(a, 1);
        killAt = InflightLog.Step.CLEARED; // after the first of the two clears
        assertThatThrownBy(log::publish).isInstanceOf(Killed.class);
        takeOver();
        assertThat(used()).containsExactly(c.id(), a.id());
        assertThat(ids(resubmitted())).containsExactly(b.id());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aKillBetweenThePopAndTheMarkLeavesTheChainToBePoppedAgain(boolean packedRing) throws Exception {
        setUp(packedRing);
        offer(2);
        DescriptorChain logged = pop();
        killAt = InflightLog.Step.ENTRY_WRITTEN;
        assertThatThrownBy(() -> log.pop(device.newChain())).isInstanceOf(Killed.class);
        takeOver();
        assertThat(ids(resubmitted())).containsExactly(logged.id());
        DescriptorChain again = pop();
        assertThat(again.id()).isNotEqualTo(logged.id());
        assertThat(log.pop(device.newChain())).isFalse();
    }

    @Test
    void packedUsedDescriptorsPushedButNotPublishedAreTakenBack() throws Exception {
        setUp(true);
        takeThree();
        // The batch's second used descriptor is written whole at its push; only the first waits
        // for the publish. The process dies before the batch is announced.
        log.push(b, 1);
        killAt = InflightLog.Step.MARKED_PUSHED;
        assertThatThrownBy(() -> log.push(c, 1)).isInstanceOf(Killed.class);
        takeOver();
        List<DescriptorChain> again = resubmitted();
        assertThat(ids(again)).containsExactly(a.id(), b.id(), c.id());
        // The new process returns one request, on the slot of the old batch's first: the driver
        // must not go on to the old one's second, which would be c, completed by nobody.
        log.push(again.get(0), 1);
        log.publish();
        assertThat(used()).containsExactly(a.id());
        log.push(again.get(2), 1);
        log.push(again.get(1), 1);
        log.publish();
        assertThat(used()).containsExactly(c.id(), b.id());
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void requestsAreServedAgainInTheOrderTheyWerePoppedWhateverTheirIds(boolean packedRing) throws Exception {
        setUp(packedRing);
        offer(SIZE);
        List<DescriptorChain> first = new ArrayList<>();
        for (int i = 0; i < SIZE; i++) {
            first.add(pop());
        }
        // Every other one completes, the last first; the driver gives their buffers (ids) out
        // again in its own order, and the device takes them.
        for (int i = 0; i < SIZE; i += 2) {
            log.push(first.get(SIZE - 1 - i), 1);
        }
        log.publish();
        assertThat(used()).hasSize(SIZE / 2);
        List<Integer> reoffered = offer(SIZE / 2);
        for (int i = 0; i < SIZE / 2; i++) {
            pop();
        }
        takeOver();
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < SIZE; i++) {
            if (i % 2 == 0) {
                expected.add(first.get(i).id()); // the ones left in flight, in pop order
            }
        }
        expected.addAll(reoffered);
        assertThat(ids(resubmitted())).containsExactlyElementsOf(expected);
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aChainMadeAvailableWhileItsIdIsInFlightBreaksTheQueue(boolean packedRing) throws Exception {
        setUp(packedRing);
        offer(1);
        DescriptorChain only = pop();
        // A driver that hands the same head or buffer id out twice.
        takeOver();
        resubmitted();
        if (packed) {
            // Write a second available descriptor with the same buffer id at the next slot.
            MemorySegment ring = slice(DESC, 16 * SIZE);
            MemorySegment.copy(ring, 0, ring, 16, 16);
        } else {
            MemorySegment avail = slice(DRIVER, SplitRing.availRingSize(SIZE));
            avail.set(io.vduse.api.Layouts.LE16, SplitRing.AVAIL_RING + 2, (short) only.id());
            avail.set(io.vduse.api.Layouts.LE16, SplitRing.AVAIL_IDX, (short) 2);
        }
        assertThatThrownBy(() -> log.pop(device.newChain())).isInstanceOfSatisfying(VirtqueueException.class,
                e -> assertThat(e.reason()).isEqualTo(VirtqueueException.Reason.ID_IN_FLIGHT));
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aLogOfAnotherRingIsNotUsedAndNothingIsWritten(boolean packedRing) throws Exception {
        setUp(packedRing);
        offer(1);
        pop();
        byte[] before = Files.readAllBytes(file());
        assertThatThrownBy(() -> InflightLog.recover(file(), new VduseVqInfo(0, SIZE, DESC + 0x1000, DRIVER, DEVICE,
                vq().state(), true), packed, iova, null)).isInstanceOf(InflightLog.Unusable.class)
                .hasMessageContaining("ring at");
        assertThatThrownBy(() -> InflightLog.recover(file(), new VduseVqInfo(0, SIZE / 2, DESC, DRIVER, DEVICE,
                vq().state(), true), packed, iova, null)).isInstanceOf(InflightLog.Unusable.class)
                .hasMessageContaining("ring of");
        assertThatThrownBy(() -> InflightLog.recover(file(), vq(), !packed, iova, null))
                .isInstanceOf(InflightLog.Unusable.class).hasMessageContaining(packed ? "packed" : "split");
        assertThat(Files.readAllBytes(file())).isEqualTo(before);
        assertThat(InflightLog.recover(dir.resolve("none"), vq(), packed, iova, null)).isNull();
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aSecondTakeOverBeforeAnythingIsServedFindsTheSameRequests(boolean packedRing) throws Exception {
        setUp(packedRing);
        takeThree();
        log.push(b, 1);
        killAt = InflightLog.Step.ANNOUNCED;
        assertThatThrownBy(log::publish).isInstanceOf(Killed.class);
        // The first take-over settles the log and dies before serving anything; the second
        // finds the same requests to serve, the settled batch included.
        takeOver();
        takeOver();
        assertThat(ids(resubmitted())).containsExactly(a.id(), b.id(), c.id());
    }
}
