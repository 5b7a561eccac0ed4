package io.vduse.blk.cli;

import io.vduse.blk.QueueCounters;
import io.vduse.blk.QueueCounters.Counter;
import io.vduse.blk.VirtioBlkDevice;
import io.vduse.core.VduseDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Formats a device's per-queue counters, one line per queue. */
final class StatsFormatter {

    private StatsFormatter() {}

    /**
     * One line per queue: requests by type, bytes, errors, and the SDK's completions, interrupts
     * and requests served again after a take-over ({@code --reconnect}).
     */
    static List<String> lines(VirtioBlkDevice device) {
        VduseDevice vduse = device.vduseDevice();
        List<String> lines = new ArrayList<>();
        for (int q = 0; q < vduse.queueCount(); q++) {
            QueueCounters c = device.counters(q);
            lines.add(String.format(Locale.ROOT,
                    "queue %d: %d reads (%s), %d writes (%s), %d flushes, %d discards, %d write-zeroes, "
                            + "%d get-id, %d IOERR, %d UNSUPP, %d refused | %d completed, %d interrupts, %d resubmitted",
                    q, c.get(Counter.READS), bytes(c.get(Counter.BYTES_READ)), c.get(Counter.WRITES),
                    bytes(c.get(Counter.BYTES_WRITTEN)), c.get(Counter.FLUSHES), c.get(Counter.DISCARDS),
                    c.get(Counter.WRITE_ZEROES), c.get(Counter.GET_IDS), c.get(Counter.IO_ERRORS),
                    c.get(Counter.UNSUPPORTED), c.get(Counter.REFUSED), vduse.completed(q), vduse.interrupts(q),
                    vduse.resubmitted(q)));
        }
        return lines;
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
