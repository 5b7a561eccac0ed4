package io.vduse.core.vdpa;

/** The vDPA bus drivers a device can be bound to. */
public enum VdpaDriver {
    /** {@code virtio_vdpa}: the host's own virtio drivers take the device ({@code /dev/vdX} for a disk). */
    VIRTIO_VDPA("virtio_vdpa"),
    /** {@code vhost_vdpa}: a {@code /dev/vhost-vdpa-N} character device, for a VM or a userspace driver. */
    VHOST_VDPA("vhost_vdpa");

    private final String moduleName;

    VdpaDriver(String moduleName) {
        this.moduleName = moduleName;
    }

    /** The kernel module and sysfs driver name, e.g. {@code vhost_vdpa}. */
    public String moduleName() {
        return moduleName;
    }
}
