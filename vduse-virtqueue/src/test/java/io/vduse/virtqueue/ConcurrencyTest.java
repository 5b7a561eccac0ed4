package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A driver thread and a device thread that sleep between kicks and interrupts, as they would on
 * eventfds: if a fence were missing or a re-check skipped, a wake-up would be lost and one side
 * would sleep forever. Sleeping is bounded by a generous wait that fails the test instead of
 * hanging it; nothing is timed.
 */
class ConcurrencyTest {

    private static final int CHAINS = 50_000;
    private static final long STUCK_SECONDS = 60;

    @ParameterizedTest(name = "packed={0} eventIdx={1}")
    @CsvSource({"false,false", "false,true", "true,false", "true,true"})
    void noWakeUpIsLost(boolean packed, boolean eventIdx) throws Exception {
        try (Rig rig = new Rig(16, Rig.features(packed, eventIdx, false))) {
            Semaphore kick = new Semaphore(0);
            Semaphore interrupt = new Semaphore(0);
            AtomicReference<Throwable> deviceFailure = new AtomicReference<>();
            Thread device = Thread.ofPlatform().name("device").start(() -> {
                try {
                    deviceLoop(rig, kick, interrupt);
                } catch (Throwable t) {
                    deviceFailure.set(t);
                    interrupt.release();
                }
            });
            long[] iovas = {Rig.DATA, Rig.DATA + 64};
            int[] lengths = {8, 8};
            // Every chain reads 41 and gets 42 back in the same two buffers.
            rig.raw(Rig.DATA, 8).set(io.vduse.api.Layouts.LE64, 0, 41);
            MemorySegment reply = rig.raw(Rig.DATA + 64, 8);
            int added = 0;
            int completed = 0;
            rig.driver.disableInterrupts();
            while (completed < CHAINS) {
                boolean any = false;
                while (added < CHAINS && rig.driver.add(iovas, lengths, 1, 1) >= 0) {
                    added++;
                    any = true;
                }
                if (any && rig.driver.kickPrepare()) {
                    kick.release();
                }
                int id;
                while ((id = rig.driver.pollUsed()) >= 0) {
                    assertThat(rig.driver.usedLength()).isEqualTo(8);
                    assertThat(reply.get(io.vduse.api.Layouts.LE64, 0)).isEqualTo(42);
                    completed++;
                }
                if (completed < added && !rig.driver.enableInterrupts()) {
                    assertThat(interrupt.tryAcquire(STUCK_SECONDS, TimeUnit.SECONDS))
                            .as("driver waited for an interrupt that never came: %d of %d completed", completed, added)
                            .isTrue();
                    assertThat(deviceFailure.get()).isNull();
                }
                rig.driver.disableInterrupts();
            }
            device.interrupt();
            device.join();
            assertThat(deviceFailure.get()).isNull();
            assertThat(completed).isEqualTo(CHAINS);
        }
    }

    private static void deviceLoop(Rig rig, Semaphore kick, Semaphore interrupt) throws InterruptedException {
        DescriptorChain chain = rig.device.newChain();
        long served = 0;
        while (served < CHAINS) {
            do {
                rig.device.disableNotifications();
                while (rig.device.pop(chain)) {
                    long value = chain.reader().readLongLe();
                    chain.writer().writeLongLe(value + 1);
                    rig.device.push(chain, (int) chain.writer().bytesWritten());
                    served++;
                }
                if (rig.device.publish()) {
                    interrupt.release();
                }
            } while (rig.device.enableNotifications());
            if (served < CHAINS && !kick.tryAcquire(STUCK_SECONDS, TimeUnit.SECONDS)) {
                throw new AssertionError("device waited for a kick that never came after " + served + " chains");
            }
        }
    }
}
