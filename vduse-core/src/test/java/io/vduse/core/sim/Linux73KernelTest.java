package io.vduse.core.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.Layouts;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseIotlbEntry;
import io.vduse.api.VduseIotlbEntryV2;
import io.vduse.api.VduseVqConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import static io.vduse.core.sim.Errnos.errno;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The simulated kernel answers as Linux 7.3 does where it differs from 6.12 (the answers
 * {@code vduse-it}'s KernelFactsTest records on the real 7.3, and {@code vduse_dev.c} of 7.3).
 */
class Linux73KernelTest {

    private static final long ACCESS_PLATFORM = VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM);
    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_7_3);
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void close() {
        arena.close();
    }


    private int create(VduseFile control, String name, int vqAlign, int ngroups, int nas) {
        VduseDevConfig c = new VduseDevConfig(name, 0, VirtioDeviceId.BLOCK, ACCESS_PLATFORM, 2, vqAlign, ngroups, nas,
                new byte[8]);
        MemorySegment arg = arena.allocate(c.byteSize());
        c.writeTo(arg);
        return errno(() -> control.ioctl(VduseIoctls.CREATE_DEV, arg));
    }

    private int setU64(VduseFile control, io.vduse.api.Ioctl ioctl, long value) {
        MemorySegment arg = arena.allocate(8);
        arg.set(Layouts.U64, 0, value);
        return errno(() -> control.ioctl(ioctl, arg));
    }

    @Test
    void apiVersionAndVduseFeatures() throws Exception {
        VduseFile control = kernel.openControl();
        MemorySegment value = arena.allocate(8);
        control.ioctl(VduseIoctls.GET_API_VERSION, value);
        assertThat(value.get(Layouts.U64, 0)).isEqualTo(1);
        control.ioctl(VduseIoctls.GET_FEATURES, value);
        assertThat(value.get(Layouts.U64, 0)).isEqualTo(0x3);
        assertThat(setU64(control, VduseIoctls.SET_FEATURES, 0x4)).isEqualTo(Errno.EINVAL);
        assertThat(setU64(control, VduseIoctls.SET_FEATURES, 0x3)).isZero();
        assertThat(setU64(control, VduseIoctls.SET_API_VERSION, 2)).isEqualTo(Errno.EINVAL);

        VduseFile old = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12).openControl();
        assertThat(errno(() -> old.ioctl(VduseIoctls.GET_FEATURES, value))).isEqualTo(Errno.EINVAL);
    }

    @Test
    void createDevUnderApiV1NeedsGroupsAndAddressSpaces() {
        VduseFile control = kernel.openControl();
        MemorySegment value = arena.allocate(8);
        // GET_API_VERSION holds a file that asked nothing to version 1.
        assertThat(errno(() -> control.ioctl(VduseIoctls.GET_API_VERSION, value))).isZero();
        assertThat(create(control, "zero", 4096, 0, 0)).isEqualTo(Errno.EINVAL);
        assertThat(create(control, "nas0", 4096, 1, 0)).isEqualTo(Errno.EINVAL);
        assertThat(create(control, "one", 4096, 1, 1)).isZero();
        assertThat(create(control, "many", 4096, 0xffff, 0xffff)).isZero();
        assertThat(create(control, "toomany", 4096, 0x10000, 1)).isEqualTo(Errno.EINVAL);
        // 7.3 checks vq_align: a power of two of at least 4 (6.12 took 0).
        assertThat(create(control, "align0", 0, 1, 1)).isEqualTo(Errno.EINVAL);
        assertThat(create(control, "align6", 6, 1, 1)).isEqualTo(Errno.EINVAL);
        assertThat(create(control, "align4", 4, 1, 1)).isZero();
        // 7.3 allows virtio-fs (6.12 refused it).
        VduseDevConfig fs = new VduseDevConfig("fs", 0, VirtioDeviceId.FS, ACCESS_PLATFORM, 2, 4096, 1, 1, new byte[8]);
        MemorySegment fsArg = arena.allocate(fs.byteSize());
        fs.writeTo(fsArg);
        assertThat(errno(() -> control.ioctl(VduseIoctls.CREATE_DEV, fsArg))).isZero();

        // A file that never asked creates with API 0, where ngroups and nas must be 0.
        VduseFile fresh = kernel.openControl();
        assertThat(create(fresh, "fresh1", 4096, 1, 1)).isEqualTo(Errno.EINVAL);
        assertThat(create(fresh, "fresh0", 4096, 0, 0)).isZero();
    }

    @Test
    void queueSetupAndIotlbLookupsCheckGroupsAndAddressSpaces() throws Exception {
        VduseFile control = kernel.openControl();
        assertThat(setU64(control, VduseIoctls.SET_API_VERSION, 1)).isZero();
        assertThat(create(control, "g2", 4096, 2, 2)).isZero();
        VduseFile dev = kernel.openDevice("g2");
        MemorySegment vq = arena.allocate(VduseVqConfig.LAYOUT);
        new VduseVqConfig(0, 64, 2).writeTo(vq);
        assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_SETUP, vq))).isEqualTo(Errno.EINVAL);
        new VduseVqConfig(0, 64, 1).writeTo(vq);
        assertThat(errno(() -> dev.ioctl(VduseIoctls.VQ_SETUP, vq))).isZero();

        MemorySegment entry = arena.allocate(VduseIotlbEntryV2.LAYOUT);
        new VduseIotlbEntryV2(VduseIotlbEntry.query(0, 4095), 2).writeTo(entry);
        assertThat(errno(() -> dev.ioctl(VduseIoctls.IOTLB_GET_FD2, entry))).isEqualTo(Errno.EINVAL);
        new VduseIotlbEntryV2(VduseIotlbEntry.query(0, 4095), 1).writeTo(entry);
        // Nothing is mapped before a driver attaches: EINVAL too, but past the asid check.
        assertThat(errno(() -> dev.ioctl(VduseIoctls.IOTLB_GET_FD2, entry))).isEqualTo(Errno.EINVAL);
        dev.close();

        VduseFile v0 = kernel.openControl();
        assertThat(setU64(v0, VduseIoctls.SET_API_VERSION, 0)).isZero();
        assertThat(create(v0, "v0dev", 4096, 0, 0)).isZero();
        VduseFile dev0 = kernel.openDevice("v0dev");
        assertThat(errno(() -> dev0.ioctl(VduseIoctls.IOTLB_GET_FD2, entry))).isEqualTo(Errno.ENOTTY);
        dev0.close();
    }
}
