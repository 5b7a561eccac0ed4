package io.vduse.it.vhost;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.vduse.api.Ioctl;
import java.util.List;

/**
 * The vhost and vhost-vdpa ioctls the client uses, as {@code include/uapi/linux/vhost.h} (Linux
 * 7.3) defines them: type {@code VHOST_VIRTIO} (0xAF), the number and the argument's size taken
 * from {@link VhostTypes}. {@code VhostLayoutTest} compares every request number with the one
 * computed by hand from the header.
 */
final class VhostIoctls {

    private VhostIoctls() {}

    /** {@code VHOST_VIRTIO}. */
    static final int VIRTIO = 0xAF;

    /** {@code _IOR(VHOST_VIRTIO, 0x00, __u64)}: the device's virtio features. */
    static final Ioctl GET_FEATURES = Ioctl.read("VHOST_GET_FEATURES", VIRTIO, 0x00, JAVA_LONG);
    /** {@code _IOW(VHOST_VIRTIO, 0x00, __u64)}: the driver's features (before FEATURES_OK). */
    static final Ioctl SET_FEATURES = Ioctl.write("VHOST_SET_FEATURES", VIRTIO, 0x00, JAVA_LONG);
    /** {@code _IO(VHOST_VIRTIO, 0x01)}: this process owns the device; before any other command. */
    static final Ioctl SET_OWNER = Ioctl.none("VHOST_SET_OWNER", VIRTIO, 0x01);
    /** {@code _IOW(VHOST_VIRTIO, 0x10, struct vhost_vring_state)}. */
    static final Ioctl SET_VRING_NUM = Ioctl.write("VHOST_SET_VRING_NUM", VIRTIO, 0x10, VhostTypes.VRING_STATE);
    /** {@code _IOW(VHOST_VIRTIO, 0x11, struct vhost_vring_addr)}. */
    static final Ioctl SET_VRING_ADDR = Ioctl.write("VHOST_SET_VRING_ADDR", VIRTIO, 0x11, VhostTypes.VRING_ADDR);
    /** {@code _IOW(VHOST_VIRTIO, 0x12, struct vhost_vring_state)}: the next avail index to take. */
    static final Ioctl SET_VRING_BASE = Ioctl.write("VHOST_SET_VRING_BASE", VIRTIO, 0x12, VhostTypes.VRING_STATE);
    /** {@code _IOWR(VHOST_VIRTIO, 0x12, struct vhost_vring_state)}: the device's next avail index. */
    static final Ioctl GET_VRING_BASE = Ioctl.readWrite("VHOST_GET_VRING_BASE", VIRTIO, 0x12,
            VhostTypes.VRING_STATE);
    /** {@code _IOW(VHOST_VIRTIO, 0x20, struct vhost_vring_file)}: the eventfd the client kicks. */
    static final Ioctl SET_VRING_KICK = Ioctl.write("VHOST_SET_VRING_KICK", VIRTIO, 0x20, VhostTypes.VRING_FILE);
    /** {@code _IOW(VHOST_VIRTIO, 0x21, struct vhost_vring_file)}: the eventfd the device's interrupts signal. */
    static final Ioctl SET_VRING_CALL = Ioctl.write("VHOST_SET_VRING_CALL", VIRTIO, 0x21, VhostTypes.VRING_FILE);
    /** {@code _IOW(VHOST_VIRTIO, 0x25, __u64)}. */
    static final Ioctl SET_BACKEND_FEATURES = Ioctl.write("VHOST_SET_BACKEND_FEATURES", VIRTIO, 0x25, JAVA_LONG);
    /** {@code _IOR(VHOST_VIRTIO, 0x26, __u64)}. */
    static final Ioctl GET_BACKEND_FEATURES = Ioctl.read("VHOST_GET_BACKEND_FEATURES", VIRTIO, 0x26, JAVA_LONG);

    /** {@code _IOR(VHOST_VIRTIO, 0x70, __u32)}. */
    static final Ioctl VDPA_GET_DEVICE_ID = Ioctl.read("VHOST_VDPA_GET_DEVICE_ID", VIRTIO, 0x70, JAVA_INT);
    /** {@code _IOR(VHOST_VIRTIO, 0x71, __u8)}. */
    static final Ioctl VDPA_GET_STATUS = Ioctl.read("VHOST_VDPA_GET_STATUS", VIRTIO, 0x71, JAVA_BYTE);
    /** {@code _IOW(VHOST_VIRTIO, 0x72, __u8)}. */
    static final Ioctl VDPA_SET_STATUS = Ioctl.write("VHOST_VDPA_SET_STATUS", VIRTIO, 0x72, JAVA_BYTE);
    /**
     * {@code _IOR(VHOST_VIRTIO, 0x73, struct vhost_vdpa_config)}: the size in the number is the
     * 8-byte header only; the buffer follows it.
     */
    static final Ioctl VDPA_GET_CONFIG = Ioctl.read("VHOST_VDPA_GET_CONFIG", VIRTIO, 0x73, VhostTypes.VDPA_CONFIG);
    /** {@code _IOW(VHOST_VIRTIO, 0x75, struct vhost_vring_state)}: num 1 enables, 0 disables. */
    static final Ioctl VDPA_SET_VRING_ENABLE = Ioctl.write("VHOST_VDPA_SET_VRING_ENABLE", VIRTIO, 0x75,
            VhostTypes.VRING_STATE);
    /** {@code _IOR(VHOST_VIRTIO, 0x76, __u16)}: the largest ring. */
    static final Ioctl VDPA_GET_VRING_NUM = Ioctl.read("VHOST_VDPA_GET_VRING_NUM", VIRTIO, 0x76, JAVA_SHORT);
    /** {@code _IOR(VHOST_VIRTIO, 0x78, struct vhost_vdpa_iova_range)}. */
    static final Ioctl VDPA_GET_IOVA_RANGE = Ioctl.read("VHOST_VDPA_GET_IOVA_RANGE", VIRTIO, 0x78,
            VhostTypes.IOVA_RANGE);
    /** {@code _IOR(VHOST_VIRTIO, 0x7A, unsigned int)}. */
    static final Ioctl VDPA_GET_AS_NUM = Ioctl.read("VHOST_VDPA_GET_AS_NUM", VIRTIO, 0x7A, JAVA_INT);
    /** {@code _IOWR(VHOST_VIRTIO, 0x7B, struct vhost_vring_state)}: index = queue in, num = group out. */
    static final Ioctl VDPA_GET_VRING_GROUP = Ioctl.readWrite("VHOST_VDPA_GET_VRING_GROUP", VIRTIO, 0x7B,
            VhostTypes.VRING_STATE);
    /** {@code _IOW(VHOST_VIRTIO, 0x7C, struct vhost_vring_state)}: index = group, num = asid. */
    static final Ioctl VDPA_SET_GROUP_ASID = Ioctl.write("VHOST_VDPA_SET_GROUP_ASID", VIRTIO, 0x7C,
            VhostTypes.VRING_STATE);
    /** {@code _IO(VHOST_VIRTIO, 0x7D)}. */
    static final Ioctl VDPA_SUSPEND = Ioctl.none("VHOST_VDPA_SUSPEND", VIRTIO, 0x7D);
    /** {@code _IOR(VHOST_VIRTIO, 0x80, __u32)}. */
    static final Ioctl VDPA_GET_VQS_COUNT = Ioctl.read("VHOST_VDPA_GET_VQS_COUNT", VIRTIO, 0x80, JAVA_INT);
    /** {@code _IOR(VHOST_VIRTIO, 0x81, __u32)}. */
    static final Ioctl VDPA_GET_GROUP_NUM = Ioctl.read("VHOST_VDPA_GET_GROUP_NUM", VIRTIO, 0x81, JAVA_INT);

    /** Every request above, for the table test. */
    static final List<Ioctl> ALL = List.of(GET_FEATURES, SET_FEATURES, SET_OWNER, SET_VRING_NUM, SET_VRING_ADDR,
            SET_VRING_BASE, GET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL, SET_BACKEND_FEATURES,
            GET_BACKEND_FEATURES, VDPA_GET_DEVICE_ID, VDPA_GET_STATUS, VDPA_SET_STATUS, VDPA_GET_CONFIG,
            VDPA_SET_VRING_ENABLE, VDPA_GET_VRING_NUM, VDPA_GET_IOVA_RANGE, VDPA_GET_AS_NUM, VDPA_GET_VRING_GROUP,
            VDPA_SET_GROUP_ASID, VDPA_SUSPEND, VDPA_GET_VQS_COUNT, VDPA_GET_GROUP_NUM);
}
