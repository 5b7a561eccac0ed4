package io.vduse.core.vdpa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.core.Errno;
import io.vduse.core.internal.linux.GenericNetlink.Ack;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the bus reads from sysfs, and how the kernel's refusals read, without a kernel. */
class VdpaBusTest {

    @TempDir
    Path sys;

    @Test
    void aDiskUnderVirtioVdpaIsFoundThroughItsVirtioDevice() throws IOException {
        Path device = boundDevice("blk0", "virtio_vdpa");
        Files.createDirectories(device.resolve("virtio3/block/vdb"));

        assertThat(VdpaBus.at(sys).find("blk0"))
                .contains(new VdpaAttachment("blk0", VdpaDriver.VIRTIO_VDPA, Optional.of(Path.of("/dev/vdb"))));
    }

    @Test
    void aVhostVdpaDeviceIsFoundByItsCharacterDevice() throws IOException {
        Path device = boundDevice("vm0", "vhost_vdpa");
        Files.createDirectories(device.resolve("vhost-vdpa-2"));
        Files.createDirectories(device.resolve("power"));

        VdpaAttachment found = VdpaBus.at(sys).find("vm0").orElseThrow();
        assertThat(found.driver()).isEqualTo(VdpaDriver.VHOST_VDPA);
        assertThat(found.describe()).isEqualTo("/dev/vhost-vdpa-2");
    }

    @Test
    void aDeviceNotOnTheBusOrBoundToNoDriverIsNotFound() throws IOException {
        assertThat(VdpaBus.at(sys).find("absent")).isEmpty();
        Files.createDirectories(sys.resolve("devices/unbound"));
        assertThat(VdpaBus.at(sys).find("unbound")).isEmpty();
    }

    @Test
    void aDriverThatIsNotLoadedIsRefusedBeforeTheKernelIsAsked() throws IOException {
        Files.createDirectories(sys.resolve("drivers/virtio_vdpa"));
        // No vhost_vdpa directory: the add stops there, with no netlink request (none would reach a
        // kernel from this test anyway, and the message would then be a netlink one).
        assertThatThrownBy(() -> VdpaBus.at(sys).add("vm0", VdpaDriver.VHOST_VDPA))
                .isInstanceOf(VdpaException.class)
                .hasMessage("cannot bind vm0 to vhost_vdpa: the driver is not loaded (modprobe vhost_vdpa)");
    }

    @Test
    void refusalsSayWhatToDo() {
        assertThat(VdpaBus.refused("vdpa dev add name b mgmtdev vduse", VdpaBus.CMD_DEV_NEW,
                new Ack(1, Errno.ENODEV, "Fail to find the specified management device"), "b").getMessage())
                .isEqualTo("vdpa dev add name b mgmtdev vduse: ENODEV (19) No such device (the kernel: \"Fail to "
                        + "find the specified management device\"): no vDPA management device 'vduse': the vduse "
                        + "module is not loaded (modprobe vduse)");
        assertThat(VdpaBus.refused("add", VdpaBus.CMD_DEV_NEW, new Ack(1, Errno.EEXIST, null), "b").getMessage())
                .endsWith("a vDPA device named b is on the bus already (vdpa dev del b)");
        assertThat(VdpaBus.refused("add", VdpaBus.CMD_DEV_NEW, new Ack(1, Errno.EPERM, null), "b").getMessage())
                .contains("EPERM").endsWith("needs CAP_NET_ADMIN (run as root)");
        assertThat(VdpaBus.refused("add", VdpaBus.CMD_DEV_NEW, new Ack(1, Errno.EINVAL, null), "b").getMessage())
                .endsWith("no VDUSE device named b whose queues are set up (start it first)");
        VdpaException del = VdpaBus.refused("vdpa dev del b", VdpaBus.CMD_DEV_DEL, new Ack(1, Errno.ENODEV, null), "b");
        assertThat(del.getMessage()).endsWith("no vDPA device named b is on the bus");
        assertThat(del.errno()).isEqualTo(Errno.ENODEV);
    }

    private Path boundDevice(String name, String driver) throws IOException {
        Path drivers = Files.createDirectories(sys.resolve("drivers").resolve(driver));
        Path device = Files.createDirectories(sys.resolve("devices").resolve(name));
        Files.createSymbolicLink(device.resolve("driver"), drivers);
        return device;
    }
}
