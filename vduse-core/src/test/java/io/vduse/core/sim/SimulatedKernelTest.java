package io.vduse.core.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.Ioctl;
import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseConfigData;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.VduseDevRequest;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseRequest;
import io.vduse.api.VduseResponse;
import io.vduse.api.VduseVqConfig;
import io.vduse.api.VduseVqEventfd;
import io.vduse.api.VduseVqInfo;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import static io.vduse.core.sim.Errnos.errno;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The simulated kernel answers as Linux 6.12 did in the QEMU guest (vduse-it's KernelFactsTest
 * pins those answers against the real kernel): the checks of CREATE_DEV and the device ioctls,
 * the exclusive open, and the messages of a closed device file going to the next opener.
 */
class SimulatedKernelTest {

    private static final long ACCESS_PLATFORM = VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM);
    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(5));
    private final VduseFile control = kernel.openControl();
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void close() {
        arena.close();
    }

    private int create(String name, int deviceId, long features, int vqNum, int vqAlign, byte[] config) {
        VduseDevConfig c = new VduseDevConfig(name, 0, deviceId, features, vqNum, vqAlign, 0, 0, config);
        MemorySegment arg = arena.allocate(c.byteSize());
        c.writeTo(arg);
        return errno(() -> control.ioctl(VduseIoctls.CREATE_DEV, arg));
    }


    @Test
    void createDevAnswersAsLinuxDid() {
        byte[] config = new byte[8];
        assertThat(create("ok", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, config)).isZero();
        assertThat(create("ok", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, config)).isEqualTo(Errno.EEXIST);
        assertThat(create("no-ap", VirtioDeviceId.BLOCK, 0, 1, 4096, config)).isEqualTo(Errno.EINVAL);
        assertThat(create("wce", VirtioDeviceId.BLOCK,
                ACCESS_PLATFORM | VirtioFeatures.bit(VirtioBlk.F_CONFIG_WCE), 1, 4096, config)).isEqualTo(Errno.EINVAL);
        assertThat(create("fs", VirtioDeviceId.FS, ACCESS_PLATFORM, 1, 4096, config)).isEqualTo(Errno.EINVAL);
        assertThat(create("id99", 99, ACCESS_PLATFORM, 1, 4096, config)).isEqualTo(Errno.EINVAL);
        assertThat(create("a/b", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, config)).isZero();
        assertThat(create("align", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 8192, config)).isEqualTo(Errno.EINVAL);
        assertThat(create("align0", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 0, config)).isZero();
        assertThat(create("vqs", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 0x10000, 4096, config)).isEqualTo(Errno.EINVAL);
        assertThat(create("vqs0", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 0, 4096, config)).isZero();
        assertThat(create("cfg", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, new byte[4096])).isZero();
        // A config_size above PAGE_SIZE, written by hand: the record refuses to build one.
        MemorySegment big = arena.allocate(VduseDevConfig.CONFIG + 4097);
        new VduseDevConfig("big", 0, VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, 0, 0, new byte[0]).writeTo(big);
        big.set(Layouts.U32, VduseDevConfig.CONFIG_SIZE, 4097);
        assertThat(errno(() -> control.ioctl(VduseIoctls.CREATE_DEV, big))).isEqualTo(Errno.EINVAL);
        // A non-zero reserved word.
        MemorySegment reserved = arena.allocate(VduseDevConfig.CONFIG);
        new VduseDevConfig("rsv", 0, VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, 0, 0, new byte[0]).writeTo(reserved);
        reserved.set(Layouts.U32, VduseDevConfig.RESERVED, 1);
        assertThat(errno(() -> control.ioctl(VduseIoctls.CREATE_DEV, reserved))).isEqualTo(Errno.EINVAL);
        // API v0 with ngroups set.
        MemorySegment groups = arena.allocate(VduseDevConfig.CONFIG);
        new VduseDevConfig("grp", 0, VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, 2, 0, new byte[0]).writeTo(groups);
        assertThat(errno(() -> control.ioctl(VduseIoctls.CREATE_DEV, groups))).isEqualTo(Errno.EINVAL);
    }

    @Test
    void apiVersionAndUnknownIoctls() {
        MemorySegment value = arena.allocate(8);
        assertThat(errno(() -> control.ioctl(VduseIoctls.GET_API_VERSION, value))).isZero();
        assertThat(value.get(Layouts.U64, 0)).isZero();
        value.set(Layouts.U64, 0, 1);
        assertThat(errno(() -> control.ioctl(VduseIoctls.SET_API_VERSION, value))).isEqualTo(Errno.EINVAL);
        Ioctl unknown = Ioctl.none("UNKNOWN", Vduse.BASE, 0x7f);
        assertThat(errno(() -> control.ioctl(unknown, MemorySegment.NULL))).isEqualTo(Errno.EINVAL);
    }

    @Test
    void deviceIoctlsCheckTheirArgumentsAsLinuxDid() throws Exception {
        assertThat(create("dev", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 2, 4096, new byte[16])).isZero();
        try (VduseFile dev = kernel.openDevice("dev")) {
            assertThat(errno(() -> kernel.openDevice("dev").fd())).isEqualTo(Errno.EBUSY);
            MemorySegment features = arena.allocate(8);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.DEV_GET_FEATURES, features))).isZero();
            assertThat(features.get(Layouts.U64, 0)).isZero();

            MemorySegment vq = arena.allocate(VduseVqConfig.LAYOUT);
            new VduseVqConfig(2, 256, 0).writeTo(vq);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_SETUP, vq))).isEqualTo(Errno.EINVAL);
            new VduseVqConfig(1, 256, 0).writeTo(vq);
            vq.set(Layouts.U16, 6, (short) 1);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_SETUP, vq))).isEqualTo(Errno.EINVAL);
            new VduseVqConfig(1, 0, 0).writeTo(vq);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_SETUP, vq))).isZero();

            MemorySegment info = arena.allocate(VduseVqInfo.LAYOUT);
            VduseVqInfo.writeQuery(info, 0);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_GET_INFO, info))).isZero();
            assertThat(VduseVqInfo.readFrom(info, false).ready()).isFalse();
            VduseVqInfo.writeQuery(info, 2);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_GET_INFO, info))).isEqualTo(Errno.EINVAL);

            assertThat(setConfig(dev, 15, new byte[1])).isZero();
            assertThat(setConfig(dev, 15, new byte[2])).isEqualTo(Errno.EINVAL);
            assertThat(setConfig(dev, 0, new byte[0])).isEqualTo(Errno.EINVAL);

            assertThat(errno(() -> dev.ioctl(VduseIoctls.DEV_INJECT_CONFIG_IRQ, MemorySegment.NULL)))
                    .isEqualTo(Errno.EINVAL);
            MemorySegment irq = arena.allocate(4);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_INJECT_IRQ, irq))).isEqualTo(Errno.EINVAL);

            MemorySegment kick = arena.allocate(VduseVqEventfd.LAYOUT);
            new VduseVqEventfd(0, Vduse.EVENTFD_DEASSIGN).writeTo(kick);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_SETUP_KICKFD, kick))).isZero();
            new VduseVqEventfd(0, 987_654).writeTo(kick);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_SETUP_KICKFD, kick))).isEqualTo(Errno.EBADF);
            new VduseVqEventfd(5, Vduse.EVENTFD_DEASSIGN).writeTo(kick);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_SETUP_KICKFD, kick))).isEqualTo(Errno.EINVAL);

            MemorySegment entry = arena.allocate(io.vduse.api.VduseIotlbEntry.LAYOUT);
            io.vduse.api.VduseIotlbEntry.query(0, -1L).writeTo(entry);
            assertThat(errno(() -> dev.ioctl(VduseIoctls.IOTLB_GET_FD, entry))).isEqualTo(Errno.EINVAL);

            MemorySegment name = arena.allocate(Vduse.NAME_MAX);
            name.setString(0, "dev");
            assertThat(errno(() -> control.ioctl(VduseIoctls.DESTROY_DEV, name))).isEqualTo(Errno.EBUSY);
        }
        MemorySegment name = arena.allocate(Vduse.NAME_MAX);
        name.setString(0, "dev");
        assertThat(errno(() -> control.ioctl(VduseIoctls.DESTROY_DEV, name))).isZero();
        assertThat(errno(() -> control.ioctl(VduseIoctls.DESTROY_DEV, name))).isEqualTo(Errno.EINVAL);
        assertThat(kernel.deviceExists("dev")).isFalse();
    }

    private int setConfig(VduseFile dev, int offset, byte[] data) {
        VduseConfigData d = new VduseConfigData(offset, data);
        MemorySegment arg = arena.allocate(d.byteSize());
        d.writeTo(arg);
        return errno(() -> dev.ioctl(VduseIoctls.DEV_SET_CONFIG, arg));
    }

    @Test
    void aMessageReadButNotAnsweredGoesToTheNextOpener() throws Exception {
        assertThat(create("msg", VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, new byte[8])).isZero();
        SimulatedDevice device = kernel.device("msg");
        CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
            try {
                device.setStatus(1);
            } catch (ErrnoException e) {
                throw new IllegalStateException(e);
            }
        });
        MemorySegment request = arena.allocate(VduseDevRequest.SIZE);
        try (VduseFile first = kernel.openDevice("msg")) {
            assertThat(first.awaitReadable(5000)).isTrue();
            first.read(request, VduseDevRequest.SIZE);
            assertThat(VduseRequest.decode(request, 0)).isInstanceOf(VduseRequest.SetStatus.class);
        } // closed without answering, as a killed process would
        try (VduseFile second = kernel.openDevice("msg")) {
            assertThat(second.awaitReadable(5000)).isTrue();
            second.read(request, VduseDevRequest.SIZE);
            VduseRequest again = VduseRequest.decode(request, 0);
            assertThat(again).isEqualTo(new VduseRequest.SetStatus(again.requestId(), 1));
            MemorySegment response = arena.allocate(VduseResponse.SIZE);
            VduseResponse.ok(again.requestId()).writeTo(response);
            second.write(response, VduseResponse.SIZE);
        }
        sent.get(5, TimeUnit.SECONDS);
        assertThat(device.status()).isEqualTo(1);
    }

    @Test
    void aDeviceThatDoesNotAnswerInTimeIsBroken() throws Exception {
        SimulatedKernel impatient = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofMillis(100));
        VduseDevConfig c = new VduseDevConfig("slow", 0, VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 1, 4096, 0, 0, new byte[8]);
        MemorySegment arg = arena.allocate(c.byteSize());
        c.writeTo(arg);
        impatient.openControl().ioctl(VduseIoctls.CREATE_DEV, arg);
        SimulatedDevice device = impatient.device("slow");
        assertThatThrownBy(() -> device.setStatus(1)).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.ETIMEDOUT));
        assertThat(device.broken()).isTrue();
        assertThatThrownBy(() -> device.setStatus(1)).isInstanceOfSatisfying(ErrnoException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EIO));
    }
}
