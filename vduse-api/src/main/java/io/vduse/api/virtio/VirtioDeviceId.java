package io.vduse.api.virtio;

/** Virtio device ids (virtio 1.2, 5 "Device Types") that VDUSE knows of. */
public final class VirtioDeviceId {

    /** Network card. */
    public static final int NET = 1;
    /** Block device. */
    public static final int BLOCK = 2;
    /** Console. */
    public static final int CONSOLE = 3;
    /** Entropy source. */
    public static final int RNG = 4;
    /** SCSI host. */
    public static final int SCSI = 8;
    /** File system (virtio-fs). */
    public static final int FS = 26;

    private VirtioDeviceId() {}
}
