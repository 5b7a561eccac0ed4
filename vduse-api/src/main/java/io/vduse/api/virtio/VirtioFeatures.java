package io.vduse.api.virtio;

/**
 * Feature bit numbers shared by all devices (virtio 1.2, 6 "Reserved Feature Bits"). Use
 * {@link #bit(int)} to turn a number into a mask.
 */
public final class VirtioFeatures {

    /** The device interrupts when a queue runs empty even if interrupts are suppressed (legacy). */
    public static final int NOTIFY_ON_EMPTY = 24;
    /** Message framing does not depend on descriptor boundaries (legacy). */
    public static final int ANY_LAYOUT = 27;
    /** Indirect descriptor tables. */
    public static final int INDIRECT_DESC = 28;
    /** {@code used_event} / {@code avail_event} notification suppression. */
    public static final int EVENT_IDX = 29;
    /** A virtio 1.0 or newer device. */
    public static final int VERSION_1 = 32;
    /** The device reaches memory through an IOMMU (IOVAs, not physical addresses); VDUSE requires it. */
    public static final int ACCESS_PLATFORM = 33;
    /** The packed virtqueue layout. */
    public static final int RING_PACKED = 34;
    /** Buffers are used in the order they were made available. */
    public static final int IN_ORDER = 35;
    /** Memory accesses need platform ordering (hardware devices). */
    public static final int ORDER_PLATFORM = 36;
    /** Single root I/O virtualization. */
    public static final int SR_IOV = 37;
    /** The driver passes extra data in its notifications. */
    public static final int NOTIFICATION_DATA = 38;
    /** The driver uses a device-provided value in notifications. */
    public static final int NOTIF_CONFIG_DATA = 39;
    /** Individual virtqueues can be reset. */
    public static final int RING_RESET = 40;

    private VirtioFeatures() {}

    /** The mask of feature bit {@code number}. */
    public static long bit(int number) {
        if (number < 0 || number > 63) {
            throw new IllegalArgumentException("feature bit out of range 0..63: " + number);
        }
        return 1L << number;
    }

    /** Whether {@code features} has bit {@code number}. */
    public static boolean has(long features, int number) {
        return (features & bit(number)) != 0;
    }
}
