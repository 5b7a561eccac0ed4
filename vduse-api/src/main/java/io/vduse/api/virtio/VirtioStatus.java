package io.vduse.api.virtio;

import java.util.StringJoiner;

/** Device status bits (virtio 1.2, 2.1), as the driver writes them with {@code SET_STATUS}. */
public final class VirtioStatus {

    /** The driver found the device. */
    public static final int ACKNOWLEDGE = 1;
    /** The driver knows how to drive the device. */
    public static final int DRIVER = 2;
    /** The driver is set up and ready to drive the device. */
    public static final int DRIVER_OK = 4;
    /** The driver accepted the features; they may no longer change. */
    public static final int FEATURES_OK = 8;
    /** The device hit an error it cannot recover from without a reset. */
    public static final int DEVICE_NEEDS_RESET = 0x40;
    /** The driver gave up on the device. */
    public static final int FAILED = 0x80;

    private VirtioStatus() {}

    /** Whether {@code status} has every bit of {@code bits}. */
    public static boolean has(int status, int bits) {
        return (status & bits) == bits;
    }

    /** The bits of {@code status} by name, e.g. {@code ACKNOWLEDGE|DRIVER|FEATURES_OK}; {@code RESET} for 0. */
    public static String describe(int status) {
        if (status == 0) {
            return "RESET";
        }
        StringJoiner names = new StringJoiner("|");
        int rest = status;
        String[] labels = {"ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK", null, null, "DEVICE_NEEDS_RESET", "FAILED"};
        for (int bit = 0; bit < labels.length; bit++) {
            if ((status & (1 << bit)) != 0 && labels[bit] != null) {
                names.add(labels[bit]);
                rest &= ~(1 << bit);
            }
        }
        if (rest != 0) {
            names.add("0x" + Integer.toHexString(rest));
        }
        return names.toString();
    }
}
