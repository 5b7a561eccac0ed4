package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.sim.FixedRequest;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The simulated driver's fixed requests: the same buffers sent again and again, several in flight. */
class FixedRequestTest {

    private static final int SECTORS = 256;

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
        arena.close();
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void fixedRequestsGoRoundTheRingAndAreAbandonedAtAReset(boolean packed) throws Exception {
        String name = packed ? "fixed-packed" : "fixed-split";
        RamBlockHandler ram = new RamBlockHandler(disk, name);
        AtomicBoolean hold = new AtomicBoolean();
        List<Request> held = new CopyOnWriteArrayList<>();
        toClose.add(VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                .features(VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
                        | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0))
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(1, 16)
                .settleTimeout(Duration.ofMillis(100))
                .asyncHandlers(index -> request -> {
                    if (hold.get()) {
                        held.add(request);
                    } else {
                        ram.handle(request.chain());
                        request.complete();
                    }
                }).start());
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, name,
                SimulatedDriver.Options.defaults().withQueueSize(16)));
        // Four reads of one sector each in flight at once (12 of the ring's 16 descriptors).
        FixedRequest[] reads = new FixedRequest[4];
        for (int i = 0; i < reads.length; i++) {
            reads[i] = driver.fixedRequest(0, new int[] {16}, new int[] {VirtioBlk.SECTOR_SIZE, 1});
            MemorySegment header = reads[i].buffer(0);
            header.set(ValueLayout.JAVA_INT_UNALIGNED, 0, VirtioBlk.T_IN);
            header.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, i);
        }
        // Round the ring several times, the disk changing between rounds.
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < reads.length; i++) {
                disk.asSlice((long) i * VirtioBlk.SECTOR_SIZE, VirtioBlk.SECTOR_SIZE).fill((byte) (round * 4 + i));
                driver.submit(reads[i]);
            }
            for (int i = 0; i < reads.length; i++) {
                assertThat(reads[i].await()).isEqualTo(VirtioBlk.SECTOR_SIZE + 1);
                assertThat(reads[i].buffer(2).get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) VirtioBlk.S_OK);
                byte[] expected = new byte[VirtioBlk.SECTOR_SIZE];
                Arrays.fill(expected, (byte) (round * 4 + i));
                assertThat(reads[i].buffer(1).toArray(ValueLayout.JAVA_BYTE)).as("round %d, read %d", round, i)
                        .isEqualTo(expected);
            }
        }
        assertThat(driver.inFlight(0)).isZero();
        assertThat(driver.strayCompletions(0)).isZero();

        // One in flight cannot be sent again; at a reset it is abandoned and its wait says so.
        hold.set(true);
        driver.submit(reads[0]);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (held.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(held).hasSize(1);
        assertThat(reads[0].isDone()).isFalse();
        assertThatThrownBy(() -> driver.submit(reads[0])).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("in flight");
        driver.reset();
        assertThatThrownBy(reads[0]::await).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("abandoned");
        assertThat(driver.inFlight(0)).isZero();
    }
}
