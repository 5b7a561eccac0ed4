package io.vduse.api;

/**
 * The constants of {@code include/uapi/linux/vduse.h} and the limits {@code vduse_dev.c}
 * enforces on them.
 */
public final class Vduse {

    /** {@code VDUSE_BASE}: the ioctl type byte of every VDUSE ioctl. */
    public static final int BASE = 0x81;

    /** {@code VDUSE_API_VERSION}: the original API; what kernels up to 6.x answer. */
    public static final long API_VERSION_0 = 0;
    /** {@code VDUSE_API_VERSION_1}: adds virtqueue groups and address spaces (ASID). */
    public static final long API_VERSION_1 = 1;

    /** {@code VDUSE_NAME_MAX}: size of the name buffer, including the terminating NUL. */
    public static final int NAME_MAX = 256;

    /** {@code VDUSE_ACCESS_RO}: the device may only read the IOVA range. */
    public static final int ACCESS_RO = 0x1;
    /** {@code VDUSE_ACCESS_WO}: the device may only write the IOVA range. */
    public static final int ACCESS_WO = 0x2;
    /** {@code VDUSE_ACCESS_RW}: the device may read and write the IOVA range. */
    public static final int ACCESS_RW = 0x3;

    /** {@code VDUSE_EVENTFD_DEASSIGN}: the fd value that removes a kick eventfd. */
    public static final int EVENTFD_DEASSIGN = -1;

    /** {@code VDUSE_IOVA_CAP_UMEM}: the IOVA region accepts userspace bounce memory. */
    public static final long IOVA_CAP_UMEM = 1L << 0;

    /** {@code VDUSE_REQ_RESULT_OK}: the device handled a control request. */
    public static final int REQ_RESULT_OK = 0x00;
    /** {@code VDUSE_REQ_RESULT_FAILED}: the device could not handle a control request. */
    public static final int REQ_RESULT_FAILED = 0x01;

    /** {@code VDUSE_GET_VQ_STATE}: the kernel asks for a virtqueue's state. */
    public static final int REQ_GET_VQ_STATE = 0;
    /** {@code VDUSE_SET_STATUS}: the driver set the device status. */
    public static final int REQ_SET_STATUS = 1;
    /** {@code VDUSE_UPDATE_IOTLB}: mappings in an IOVA range changed; drop what is cached. */
    public static final int REQ_UPDATE_IOTLB = 2;
    /** {@code VDUSE_SET_VQ_GROUP_ASID} (API v1): a virtqueue group moves to an address space. */
    public static final int REQ_SET_VQ_GROUP_ASID = 3;
    /** {@code VDUSE_SET_VQ_READY} (with {@link #F_QUEUE_READY}): the driver enabled or disabled a queue. */
    public static final int REQ_SET_VQ_READY = 4;
    /** {@code VDUSE_SUSPEND} (with {@link #F_SUSPEND}): stop processing the queues; no resume follows. */
    public static final int REQ_SUSPEND = 5;

    /**
     * {@code VDUSE_F_QUEUE_READY}: bit number of the VDUSE feature (not a virtio feature) under
     * which the kernel tells the device of every {@code set_vq_ready} with
     * {@link #REQ_SET_VQ_READY} and waits for the answer. Linux 7.3 and later.
     */
    public static final int F_QUEUE_READY = 0;
    /**
     * {@code VDUSE_F_SUSPEND}: bit number of the VDUSE feature under which the device can be
     * suspended ({@link #REQ_SUSPEND}); after an OK answer the kernel drops kicks and interrupts
     * until the next reset. Linux 7.3 and later.
     */
    public static final int F_SUSPEND = 1;

    /**
     * Largest config space {@code VDUSE_CREATE_DEV} accepts: {@code PAGE_SIZE}, 4096 on x86-64
     * and on arm64 with 4 KiB pages.
     */
    public static final int CONFIG_SIZE_MAX = 4096;
    /** Largest {@code vq_align} {@code VDUSE_CREATE_DEV} accepts: {@code PAGE_SIZE}. */
    public static final int VQ_ALIGN_MAX = 4096;
    /** Largest {@code vq_num} {@code VDUSE_CREATE_DEV} accepts. */
    public static final int VQ_NUM_MAX = 0xffff;
    /** Largest {@code ngroups} (API v1): {@code VDUSE_DEV_MAX_GROUPS}. */
    public static final int GROUPS_MAX = 0xffff;
    /** Largest {@code nas} (API v1): {@code VDUSE_DEV_MAX_AS}. */
    public static final int ADDRESS_SPACES_MAX = 0xffff;

    /** The default {@code msg_timeout} of the kernel, in seconds, before a device is broken. */
    public static final int DEFAULT_MSG_TIMEOUT_SECONDS = 30;

    /** The default bounce buffer size of a VDUSE domain (sysfs {@code bounce_size}). */
    public static final long DEFAULT_BOUNCE_SIZE = 64L << 20;
    /** Room for coherent allocations above the bounce range of a VDUSE domain. */
    public static final long COHERENT_SIZE = 128L << 20;

    private Vduse() {}
}
