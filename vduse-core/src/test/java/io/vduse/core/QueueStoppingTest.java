package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link QueueLifecycle#queueStopping}: a handler whose requests wait for events that may never
 * come (receive buffers) gives them back when the queue is asked to stop, so the stop settles
 * instead of cancelling them after the settle timeout.
 */
class QueueStoppingTest {

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
    }

    /** Holds every request until told of a stop, then completes them all with nothing written. */
    private static final class HoldingHandler implements AsyncQueueHandler {
        final ArrayDeque<Request> held = new ArrayDeque<>();
        final List<QueueStop> stopping = new CopyOnWriteArrayList<>();
        final List<QueueStop> stopped = new CopyOnWriteArrayList<>();
        volatile int heldCount;

        @Override
        public void start(Request request) {
            held.add(request);
            heldCount = held.size();
        }

        @Override
        public void queueStopping(QueueContext queue, QueueStop reason) {
            stopping.add(reason);
            while (!held.isEmpty()) {
                held.poll().complete(0);
            }
        }

        @Override
        public void queueStopped(QueueContext queue, QueueStop reason) {
            stopped.add(reason);
        }
    }

    private VduseDevice start(String name, AsyncQueueHandler handler) throws Exception {
        return toClose.add(VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .config(VirtioBlkConfig.ofCapacity(8).toBytes())
                .queues(1, 64)
                .settleTimeout(Duration.ofMillis(500))
                .asyncHandlers(index -> handler)
                .start());
    }

    @Test
    void aResetSettlesTheRequestsTheHandlerGivesBackWhenToldOfTheStop() throws Exception {
        HoldingHandler handler = new HoldingHandler();
        VduseDevice device = start("stopping0", handler);
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, "stopping0"));
        for (int i = 0; i < 4; i++) {
            driver.submit(0, List.of(), 64);
        }
        await(() -> handler.heldCount == 4);

        driver.reset();

        assertThat(handler.stopping).containsExactly(QueueStop.RESET);
        assertThat(handler.stopped).containsExactly(QueueStop.RESET);
        assertThat(device.cancelled(0)).isZero();
        assertThat(device.completed(0)).isEqualTo(4);
    }

    @Test
    void closeTellsTheHandlerOnceAndCancelsNothing() throws Exception {
        HoldingHandler handler = new HoldingHandler();
        VduseDevice device = start("stopping1", handler);
        SimulatedDriver driver = SimulatedDriver.attach(kernel, "stopping1");
        driver.submit(0, List.of(), 64);
        await(() -> handler.heldCount == 1);

        driver.close();
        device.close();

        assertThat(handler.stopping).hasSize(1);
        assertThat(device.cancelled(0)).isZero();
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out");
            }
            Thread.sleep(5);
        }
    }
}
