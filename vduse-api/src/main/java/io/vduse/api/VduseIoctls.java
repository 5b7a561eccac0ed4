package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static io.vduse.api.Layouts.U64;
import static io.vduse.api.Layouts.U8;

import java.lang.foreign.MemoryLayout;
import java.util.List;

/**
 * Every ioctl of {@code include/uapi/linux/vduse.h}, its number derived from its argument layout.
 *
 * <p>Control device ({@code /dev/vduse/control}): the API version calls, the VDUSE feature
 * calls, {@link #CREATE_DEV} and {@link #DESTROY_DEV}. Every other ioctl goes to the device ({@code /dev/vduse/$NAME}).
 */
public final class VduseIoctls {

    /** {@code VDUSE_GET_API_VERSION}: {@code _IOR(0x81, 0x00, __u64)}. */
    public static final Ioctl GET_API_VERSION = Ioctl.read("VDUSE_GET_API_VERSION", Vduse.BASE, 0x00, U64);
    /** {@code VDUSE_SET_API_VERSION}: {@code _IOW(0x81, 0x01, __u64)}. */
    public static final Ioctl SET_API_VERSION = Ioctl.write("VDUSE_SET_API_VERSION", Vduse.BASE, 0x01, U64);
    /** {@code VDUSE_CREATE_DEV}: {@code _IOW(0x81, 0x02, struct vduse_dev_config)}. */
    public static final Ioctl CREATE_DEV =
            Ioctl.write("VDUSE_CREATE_DEV", Vduse.BASE, 0x02, VduseDevConfig.LAYOUT);
    /** {@code VDUSE_DESTROY_DEV}: {@code _IOW(0x81, 0x03, char[VDUSE_NAME_MAX])}. */
    public static final Ioctl DESTROY_DEV = Ioctl.write("VDUSE_DESTROY_DEV", Vduse.BASE, 0x03,
            MemoryLayout.sequenceLayout(Vduse.NAME_MAX, U8));

    /**
     * {@code VDUSE_GET_FEATURES}: {@code _IOR(0x81, 0x04, __u64)}, the VDUSE features this kernel
     * offers (bits {@link Vduse#F_QUEUE_READY}, {@link Vduse#F_SUSPEND}). Linux 7.3 and later;
     * older kernels refuse it with {@code EINVAL}.
     */
    public static final Ioctl GET_FEATURES = Ioctl.read("VDUSE_GET_FEATURES", Vduse.BASE, 0x04, U64);
    /**
     * {@code VDUSE_SET_FEATURES}: {@code _IOW(0x81, 0x05, __u64)}, the VDUSE features a device
     * created later on this control file uses; a subset of {@link #GET_FEATURES}, else
     * {@code EINVAL}.
     */
    public static final Ioctl SET_FEATURES = Ioctl.write("VDUSE_SET_FEATURES", Vduse.BASE, 0x05, U64);

    /** {@code VDUSE_IOTLB_GET_FD}: {@code _IOWR(0x81, 0x10, struct vduse_iotlb_entry)}; returns an fd. */
    public static final Ioctl IOTLB_GET_FD =
            Ioctl.readWrite("VDUSE_IOTLB_GET_FD", Vduse.BASE, 0x10, VduseIotlbEntry.LAYOUT);
    /** {@code VDUSE_DEV_GET_FEATURES}: {@code _IOR(0x81, 0x11, __u64)}. */
    public static final Ioctl DEV_GET_FEATURES = Ioctl.read("VDUSE_DEV_GET_FEATURES", Vduse.BASE, 0x11, U64);
    /** {@code VDUSE_DEV_SET_CONFIG}: {@code _IOW(0x81, 0x12, struct vduse_config_data)}. */
    public static final Ioctl DEV_SET_CONFIG =
            Ioctl.write("VDUSE_DEV_SET_CONFIG", Vduse.BASE, 0x12, VduseConfigData.LAYOUT);
    /** {@code VDUSE_DEV_INJECT_CONFIG_IRQ}: {@code _IO(0x81, 0x13)}. */
    public static final Ioctl DEV_INJECT_CONFIG_IRQ = Ioctl.none("VDUSE_DEV_INJECT_CONFIG_IRQ", Vduse.BASE, 0x13);
    /** {@code VDUSE_VQ_SETUP}: {@code _IOW(0x81, 0x14, struct vduse_vq_config)}. */
    public static final Ioctl VQ_SETUP = Ioctl.write("VDUSE_VQ_SETUP", Vduse.BASE, 0x14, VduseVqConfig.LAYOUT);
    /** {@code VDUSE_VQ_GET_INFO}: {@code _IOWR(0x81, 0x15, struct vduse_vq_info)}. */
    public static final Ioctl VQ_GET_INFO =
            Ioctl.readWrite("VDUSE_VQ_GET_INFO", Vduse.BASE, 0x15, VduseVqInfo.LAYOUT);
    /** {@code VDUSE_VQ_SETUP_KICKFD}: {@code _IOW(0x81, 0x16, struct vduse_vq_eventfd)}. */
    public static final Ioctl VQ_SETUP_KICKFD =
            Ioctl.write("VDUSE_VQ_SETUP_KICKFD", Vduse.BASE, 0x16, VduseVqEventfd.LAYOUT);
    /** {@code VDUSE_VQ_INJECT_IRQ}: {@code _IOW(0x81, 0x17, __u32)}. */
    public static final Ioctl VQ_INJECT_IRQ = Ioctl.write("VDUSE_VQ_INJECT_IRQ", Vduse.BASE, 0x17, U32);
    /** {@code VDUSE_IOTLB_REG_UMEM}: {@code _IOW(0x81, 0x18, struct vduse_iova_umem)}. */
    public static final Ioctl IOTLB_REG_UMEM =
            Ioctl.write("VDUSE_IOTLB_REG_UMEM", Vduse.BASE, 0x18, VduseIovaUmem.LAYOUT);
    /** {@code VDUSE_IOTLB_DEREG_UMEM}: {@code _IOW(0x81, 0x19, struct vduse_iova_umem)}. */
    public static final Ioctl IOTLB_DEREG_UMEM =
            Ioctl.write("VDUSE_IOTLB_DEREG_UMEM", Vduse.BASE, 0x19, VduseIovaUmem.LAYOUT);
    /** {@code VDUSE_IOTLB_GET_INFO}: {@code _IOWR(0x81, 0x1a, struct vduse_iova_info)}. */
    public static final Ioctl IOTLB_GET_INFO =
            Ioctl.readWrite("VDUSE_IOTLB_GET_INFO", Vduse.BASE, 0x1a, VduseIovaInfo.LAYOUT);
    /** {@code VDUSE_IOTLB_GET_FD2} (API v1): {@code _IOWR(0x81, 0x1b, struct vduse_iotlb_entry_v2)}. */
    public static final Ioctl IOTLB_GET_FD2 =
            Ioctl.readWrite("VDUSE_IOTLB_GET_FD2", Vduse.BASE, 0x1b, VduseIotlbEntryV2.LAYOUT);

    /** All of them, in header order. */
    public static final List<Ioctl> ALL = List.of(
            GET_API_VERSION, SET_API_VERSION, CREATE_DEV, DESTROY_DEV, GET_FEATURES, SET_FEATURES,
            IOTLB_GET_FD, DEV_GET_FEATURES, DEV_SET_CONFIG, DEV_INJECT_CONFIG_IRQ,
            VQ_SETUP, VQ_GET_INFO, VQ_SETUP_KICKFD, VQ_INJECT_IRQ,
            IOTLB_REG_UMEM, IOTLB_DEREG_UMEM, IOTLB_GET_INFO, IOTLB_GET_FD2);

    private VduseIoctls() {}
}
