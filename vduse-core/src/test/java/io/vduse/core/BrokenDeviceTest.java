package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseResponse;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.api.Ioctl;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A device the kernel marks broken (a control message unanswered past {@code msg_timeout}, or a
 * refused {@code SET_VQ_READY}): its message loop sees {@code POLLERR}, says so, stops instead of
 * polling again at once forever, and the device reports {@link VduseDevice#broken()}; another
 * device of the same process goes on; destroying the device and creating it again recovers.
 */
class BrokenDeviceTest {

    private static final int SECTORS = 256;

    private final Arena arena = Arena.ofShared();
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
        arena.close();
    }

    /**
     * The simulated kernel as a device process sees it when its answers go astray: the answers
     * written while {@link #loseAnswers} is set never reach the kernel, and those written while
     * {@link #refuseAnswers} is set reach it as FAILED. It counts the device's polls.
     */
    private static final class Lossy implements VduseKernel {
        final VduseKernel kernel;
        volatile boolean loseAnswers;
        volatile boolean refuseAnswers;
        final AtomicLong polls = new AtomicLong();

        Lossy(VduseKernel kernel) {
            this.kernel = kernel;
        }

        @Override
        public VduseFile openControl() throws ErrnoException {
            return kernel.openControl();
        }

        @Override
        public VduseFile openDevice(String name) throws ErrnoException {
            VduseFile file = kernel.openDevice(name);
            return new VduseFile() {
                @Override
                public int ioctl(Ioctl request, MemorySegment argument) throws ErrnoException {
                    return file.ioctl(request, argument);
                }

                @Override
                public long read(MemorySegment buffer, long length) throws ErrnoException {
                    return file.read(buffer, length);
                }

                @Override
                public long write(MemorySegment buffer, long length) throws ErrnoException {
                    if (loseAnswers) {
                        return length;
                    }
                    if (refuseAnswers) {
                        buffer.set(Layouts.U32, VduseResponse.RESULT, Vduse.REQ_RESULT_FAILED);
                    }
                    return file.write(buffer, length);
                }

                @Override
                public boolean awaitReadable(int timeoutMillis) throws ErrnoException, DeviceBrokenException {
                    polls.incrementAndGet();
                    return file.awaitReadable(timeoutMillis);
                }

                @Override
                public int fd() {
                    return file.fd();
                }

                @Override
                public void close() throws ErrnoException {
                    file.close();
                }
            };
        }

        @Override
        public boolean deviceExists(String name) {
            return kernel.deviceExists(name);
        }

        @Override
        public String description() {
            return "lossy " + kernel.description();
        }
    }

    private VduseDevice start(VduseKernel kernel, String name) throws Exception {
        MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
        return toClose.add(VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(1, 64)
                .handlers(index -> new RamBlockHandler(disk, name)).start());
    }

    private SimulatedDriver attach(SimulatedKernel kernel, String name) throws Exception {
        return toClose.add(SimulatedDriver.attach(kernel, name, SimulatedDriver.Options.defaults().withQueueSize(64)));
    }

    /** Writes a sector and reads it back through {@code driver}. */
    private static void roundTrip(SimulatedDriver driver, int fill) throws Exception {
        BlockClient blk = new BlockClient(driver);
        byte[] data = new byte[VirtioBlk.SECTOR_SIZE];
        java.util.Arrays.fill(data, (byte) fill);
        assertThat(BlockClient.status(blk.write(0, 3, data).get(30, TimeUnit.SECONDS))).isEqualTo(VirtioBlk.S_OK);
        assertThat(blk.read(0, 3, data.length).get(30, TimeUnit.SECONDS).writable().get(0)).isEqualTo(data);
    }

    /** Waits, at most 10 s, for {@code condition}; whether it came true. */
    private static boolean eventually(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    private static boolean messageThreadRunning(String device) {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("vduse-" + device + "-msg") && t.isAlive());
    }

    /**
     * The loop of {@code device} saw POLLERR and ended (polling again would return at once,
     * forever), and the device says it is broken.
     */
    private static void assertStoppedAndBroken(VduseDevice device, Lossy lossy) throws InterruptedException {
        assertThat(eventually(() -> !messageThreadRunning(device.name())))
                .as("the message loop of the broken device stops (it polled %d times)", lossy.polls.get()).isTrue();
        assertThat(device.broken()).isTrue();
        assertThat(VirtioStatus.has(device.status(), VirtioStatus.DEVICE_NEEDS_RESET)).isTrue();
    }

    @Test
    void aMessageUnansweredPastTheTimeoutBreaksThatDeviceOnlyAndItsLoopStops() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(1));
        Lossy lossy = new Lossy(kernel);
        VduseDevice device = start(lossy, "lost0");
        VduseDevice other = start(kernel, "other0");
        SimulatedDriver driver = attach(kernel, "lost0");
        SimulatedDriver otherDriver = attach(kernel, "other0");
        roundTrip(driver, 1);
        roundTrip(otherDriver, 2);
        assertThat(device.broken()).isFalse();

        lossy.loseAnswers = true;
        assertThatThrownBy(() -> driver.queueState(0)).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.ETIMEDOUT));

        assertStoppedAndBroken(device, lossy);
        long polls = lossy.polls.get();

        // The driver's reset does not clear it: the kernel refuses the message at once.
        assertThatThrownBy(driver::reset).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EIO));
        assertThat(device.broken()).isTrue();
        assertThat(lossy.polls.get()).isEqualTo(polls);

        // The other device of this process goes on, control messages and requests alike.
        assertThat(otherDriver.queueState(0)).isNotNull();
        roundTrip(otherDriver, 3);
        assertThat(other.broken()).isFalse();
        assertThat(messageThreadRunning("other0")).isTrue();

        // What the log says to do: vdpa dev del, destroy the device, create it again.
        driver.close();
        device.close();
        assertThat(kernel.deviceExists("lost0")).isFalse();
        VduseDevice again = start(kernel, "lost0");
        roundTrip(attach(kernel, "lost0"), 4);
        assertThat(again.broken()).isFalse();
    }

    @Test
    void aRefusedSetVqReadyBreaksTheDeviceAndItsLoopStops() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_7_3, Duration.ofSeconds(20));
        Lossy lossy = new Lossy(kernel);
        VduseDevice device = start(lossy, "refused0");
        SimulatedDriver driver = attach(kernel, "refused0");
        roundTrip(driver, 5);

        lossy.refuseAnswers = true;
        assertThatThrownBy(() -> driver.disableQueue(0)).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EIO));

        assertStoppedAndBroken(device, lossy);
    }
}
