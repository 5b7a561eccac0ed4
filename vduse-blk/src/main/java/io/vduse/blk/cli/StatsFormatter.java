package io.vduse.blk.cli;

import io.vduse.blk.QueueCounters;
import io.vduse.blk.QueueCounters.Counter;
import io.vduse.api.Vduse;
import io.vduse.blk.VirtioBlkDevice;
import io.vduse.core.VduseDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Formats a device's counters: one line per queue, then one line with the control messages the
 * kernel sent, by type (what a VMM did to the device: resets, IOTLB updates, suspends, ...).
 */
final class StatsFormatter {

    private StatsFormatter() {}

    /** The control-message types the line names, in the kernel's numbering, and their names. */
    private static final int[] MESSAGE_TYPES = {Vduse.REQ_GET_VQ_STATE, Vduse.REQ_SET_STATUS,
        Vduse.REQ_UPDATE_IOTLB, Vduse.REQ_SET_VQ_GROUP_ASID, Vduse.REQ_SET_VQ_READY, Vduse.REQ_SUSPEND};
    private static final String[] MESSAGE_NAMES = {"GET_VQ_STATE", "SET_STATUS", "UPDATE_IOTLB",
        "SET_VQ_GROUP_ASID", "SET_VQ_READY", "SUSPEND"};

    /**
     * One line per queue (requests by type, bytes, errors, and the SDK's completions, interrupts,
     * requests served again after a take-over ({@code --reconnect}) and the queue thread's waits
     * for work), then the control-message
     * line ({@link #controlMessages}).
     */
    static List<String> lines(VirtioBlkDevice device) {
        VduseDevice vduse = device.vduseDevice();
        List<String> lines = new ArrayList<>();
        for (int q = 0; q < vduse.queueCount(); q++) {
            QueueCounters c = device.counters(q);
            lines.add(String.format(Locale.ROOT,
                    "queue %d: %d reads (%s), %d writes (%s), %d flushes, %d discards, %d write-zeroes, "
                            + "%d get-id, %d IOERR, %d UNSUPP, %d refused | %d completed, %d interrupts, %d resubmitted, %d waits",
                    q, c.get(Counter.READS), bytes(c.get(Counter.BYTES_READ)), c.get(Counter.WRITES),
                    bytes(c.get(Counter.BYTES_WRITTEN)), c.get(Counter.FLUSHES), c.get(Counter.DISCARDS),
                    c.get(Counter.WRITE_ZEROES), c.get(Counter.GET_IDS), c.get(Counter.IO_ERRORS),
                    c.get(Counter.UNSUPPORTED), c.get(Counter.REFUSED), vduse.completed(q), vduse.interrupts(q),
                    vduse.resubmitted(q), vduse.waits(q)));
        }
        lines.add(controlMessages(vduse));
        return lines;
    }

    /**
     * {@code control messages: GET_VQ_STATE 0, SET_STATUS 4, UPDATE_IOTLB 2, SET_VQ_GROUP_ASID 0,
     * SET_VQ_READY 0, SUSPEND 0}: every type, also those at 0, so that a script can read one by its
     * name; {@code , other N} follows when the kernel sent types this SDK does not know. Each
     * {@code UPDATE_IOTLB} is a mapping change (with vhost-vdpa, one per change of the VM's memory
     * map), {@code SUSPEND} a VMM's suspend (QEMU stopping a VM).
     */
    static String controlMessages(VduseDevice vduse) {
        StringBuilder line = new StringBuilder("control messages:");
        for (int i = 0; i < MESSAGE_TYPES.length; i++) {
            line.append(i == 0 ? " " : ", ").append(MESSAGE_NAMES[i]).append(' ')
                    .append(vduse.controlMessages(MESSAGE_TYPES[i]));
        }
        long other = vduse.controlMessages(Vduse.REQ_SUSPEND + 1);
        if (other > 0) {
            line.append(", other ").append(other);
        }
        return line.toString();
    }

    /** A byte count in binary units: {@code 512 B}, {@code 4.0 KiB}, {@code 1.5 GiB}. */
    static String bytes(double n) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        while (n >= 1024 && u < units.length - 1) {
            n /= 1024;
            u++;
        }
        return u == 0 ? String.format(Locale.ROOT, "%.0f B", n) : String.format(Locale.ROOT, "%.1f %s", n, units[u]);
    }
}
