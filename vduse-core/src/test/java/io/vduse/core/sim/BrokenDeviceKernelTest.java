package io.vduse.core.sim;

import static io.vduse.core.sim.Errnos.errno;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.VduseDevRequest;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseRequest;
import io.vduse.api.VduseResponse;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.DeviceBrokenException;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A device the kernel marked broken answers as {@code vduse_dev.c} (6.12 and 7.3) makes it
 * answer: {@code vduse_dev_broken} fails every message still waiting, read or not, with
 * {@code EIO} for its sender and empties both lists; {@code vduse_dev_ioctl} refuses every ioctl
 * with {@code EPERM}; a read finds nothing ({@code EAGAIN}, the file being non-blocking) and an
 * answer no message ({@code ENOENT}); {@code vduse_dev_poll} reports {@code POLLERR}, at once and
 * to a device already waiting; neither reopening the file nor a reset clears it (a reset still
 * resets the kernel's side); destroying and creating the device again does.
 */
class BrokenDeviceKernelTest {

    private static final long ACCESS_PLATFORM = VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM);
    /** Far longer than any wait below: a message that fails here failed because the device broke. */
    private static final Duration LONG_TIMEOUT = Duration.ofSeconds(60);
    private static final int LONG_WAIT_MILLIS = 60_000;

    private final Arena arena = Arena.ofShared();
    private final ExecutorService senders = Executors.newCachedThreadPool();
    private final MemorySegment request = arena.allocate(VduseDevRequest.SIZE);
    private final MemorySegment response = arena.allocate(VduseResponse.SIZE);

    @AfterEach
    void close() {
        senders.shutdownNow();
        arena.close();
    }

    private void create(VduseFile control, String name, long apiVersion) throws ErrnoException {
        boolean v1 = apiVersion >= Vduse.API_VERSION_1;
        VduseDevConfig c = new VduseDevConfig(name, 0, VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, v1 ? 1 : 0,
                v1 ? 1 : 0, new byte[8]);
        MemorySegment arg = arena.allocate(c.byteSize());
        c.writeTo(arg);
        control.ioctl(VduseIoctls.CREATE_DEV, arg);
    }

    private interface DriverCall {
        void run() throws ErrnoException;
    }

    /** Runs a driver-side call on its own thread, as the kernel's caller of {@code vduse_dev_msg_sync}. */
    private CompletableFuture<Integer> send(DriverCall call) {
        return CompletableFuture.supplyAsync(() -> errno(call::run), senders);
    }

    /** Reads the next message, waiting for it to be queued. */
    private VduseRequest readNext(VduseFile file, long apiVersion) throws Exception {
        assertThat(file.awaitReadable(10_000)).as("a message is queued").isTrue();
        file.read(request, VduseDevRequest.SIZE);
        return VduseRequest.decode(request, apiVersion);
    }

    private void answer(VduseFile file, VduseResponse answer) throws ErrnoException {
        answer.writeTo(response);
        file.write(response, VduseResponse.SIZE);
    }

    private static int getFeatures(VduseFile file, MemorySegment u64) {
        return errno(() -> file.ioctl(VduseIoctls.DEV_GET_FEATURES, u64));
    }

    @Test
    void aRefusedSetVqReadyFailsEveryWaitingMessageAndEmptiesBothLists() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_7_3, LONG_TIMEOUT);
        VduseFile control = kernel.openControl();
        MemorySegment u64 = arena.allocate(8);
        u64.set(Layouts.U64, 0, Vduse.API_VERSION_1);
        control.ioctl(VduseIoctls.SET_API_VERSION, u64);
        u64.set(Layouts.U64, 0, 1L << Vduse.F_QUEUE_READY);
        control.ioctl(VduseIoctls.SET_FEATURES, u64);
        create(control, "refused", Vduse.API_VERSION_1);
        SimulatedDevice device = kernel.device("refused");
        VduseFile file = kernel.openDevice("refused");

        CompletableFuture<Integer> acknowledged = send(() -> device.setStatus(VirtioStatus.ACKNOWLEDGE));
        VduseRequest ack = readNext(file, Vduse.API_VERSION_1);
        answer(file, VduseResponse.ok(ack.requestId()));
        assertThat(acknowledged.get(10, TimeUnit.SECONDS)).isZero();

        // Three messages wait at once: one read and not answered, one being refused, one not read.
        CompletableFuture<Integer> stateAsked = send(() -> device.vqState(0));
        VduseRequest state = readNext(file, Vduse.API_VERSION_1);
        assertThat(state).isInstanceOf(VduseRequest.GetVqState.class);
        CompletableFuture<Integer> readyAsked = send(() -> device.setQueueReady(0, true));
        VduseRequest ready = readNext(file, Vduse.API_VERSION_1);
        assertThat(ready).isInstanceOf(VduseRequest.SetVqReady.class);
        CompletableFuture<Integer> statusAsked = send(() -> device.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER));
        assertThat(file.awaitReadable(10_000)).as("the third message is queued").isTrue();

        answer(file, VduseResponse.failed(ready.requestId()));

        assertThat(readyAsked.get(10, TimeUnit.SECONDS)).isEqualTo(Errno.EIO);
        assertThat(device.broken()).isTrue();
        // Both others fail now, long before their own time-out.
        assertThat(stateAsked.get(10, TimeUnit.SECONDS)).isEqualTo(Errno.EIO);
        assertThat(statusAsked.get(10, TimeUnit.SECONDS)).isEqualTo(Errno.EIO);
        // The lists are empty: nothing to read, nothing to answer.
        assertThat(errno(() -> file.read(request, VduseDevRequest.SIZE))).isEqualTo(Errno.EAGAIN);
        assertThat(errno(() -> answer(file, VduseResponse.vqState(state.requestId(), 0,
                new io.vduse.api.VqState.Split(0))))).isEqualTo(Errno.ENOENT);
        assertThat(getFeatures(file, u64)).isEqualTo(Errno.EPERM);
        // A later message fails at once, without being queued.
        assertThat(send(() -> device.vqState(0)).get(10, TimeUnit.SECONDS)).isEqualTo(Errno.EIO);
        assertThat(errno(() -> file.read(request, VduseDevRequest.SIZE))).isEqualTo(Errno.EAGAIN);
        assertThatThrownBy(() -> file.awaitReadable(LONG_WAIT_MILLIS)).isInstanceOf(DeviceBrokenException.class);
        file.close();
    }

    @Test
    void aTimedOutDeviceStaysBrokenAcrossReopenAndResetUntilDestroyed() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofMillis(1000));
        VduseFile control = kernel.openControl();
        create(control, "slow", Vduse.API_VERSION_0);
        SimulatedDevice device = kernel.device("slow");
        MemorySegment u64 = arena.allocate(8);
        VduseFile file = kernel.openDevice("slow");
        assertThat(getFeatures(file, u64)).isZero();

        CompletableFuture<Integer> acknowledged = send(() -> device.setStatus(VirtioStatus.ACKNOWLEDGE));
        answer(file, VduseResponse.ok(readNext(file, Vduse.API_VERSION_0).requestId()));
        assertThat(acknowledged.get(10, TimeUnit.SECONDS)).isZero();
        assertThat(device.status()).isEqualTo(VirtioStatus.ACKNOWLEDGE);

        // Read and never answered: the sender gives up after msg_timeout and the device breaks.
        CompletableFuture<Integer> unanswered = send(() -> device.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER));
        readNext(file, Vduse.API_VERSION_0);
        // A device waiting in poll meanwhile is woken by the break, with POLLERR.
        CompletableFuture<Throwable> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                file.awaitReadable(LONG_WAIT_MILLIS);
                return null;
            } catch (ErrnoException | DeviceBrokenException e) {
                return e;
            }
        }, senders);
        assertThat(unanswered.get(10, TimeUnit.SECONDS)).isEqualTo(Errno.ETIMEDOUT);
        assertThat(device.broken()).isTrue();
        assertThat(waiting.get(10, TimeUnit.SECONDS)).isInstanceOfSatisfying(DeviceBrokenException.class,
                e -> assertThat(e.events()).isEqualTo("POLLERR"));
        // And so is every later poll, at once and for good.
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> file.awaitReadable(LONG_WAIT_MILLIS)).isInstanceOf(DeviceBrokenException.class);
        }
        assertThat(getFeatures(file, u64)).isEqualTo(Errno.EPERM);
        assertThat(errno(() -> file.read(request, VduseDevRequest.SIZE))).isEqualTo(Errno.EAGAIN);

        // A new process opening the device finds it broken as well.
        file.close();
        VduseFile reopened = kernel.openDevice("slow");
        assertThat(getFeatures(reopened, u64)).isEqualTo(Errno.EPERM);
        assertThatThrownBy(() -> reopened.awaitReadable(LONG_WAIT_MILLIS)).isInstanceOf(DeviceBrokenException.class);

        // The driver's reset: the message fails at once, the kernel's side is reset all the same,
        // and the device stays broken.
        assertThat(errno(() -> device.setStatus(0))).isEqualTo(Errno.EIO);
        assertThat(device.status()).isZero();
        assertThat(device.broken()).isTrue();
        assertThat(getFeatures(reopened, u64)).isEqualTo(Errno.EPERM);
        assertThatThrownBy(() -> reopened.awaitReadable(LONG_WAIT_MILLIS)).isInstanceOf(DeviceBrokenException.class);

        // Destroyed and created again, the device is a new one.
        reopened.close();
        MemorySegment name = arena.allocate(Vduse.NAME_MAX);
        name.setString(0, "slow");
        control.ioctl(VduseIoctls.DESTROY_DEV, name);
        create(control, "slow", Vduse.API_VERSION_0);
        assertThat(kernel.device("slow").broken()).isFalse();
        try (VduseFile fresh = kernel.openDevice("slow")) {
            assertThat(getFeatures(fresh, u64)).isZero();
            assertThat(fresh.awaitReadable(0)).isFalse();
        }
    }
}
