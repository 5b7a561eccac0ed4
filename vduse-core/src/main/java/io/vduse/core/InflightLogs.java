package io.vduse.core;

import io.vduse.api.VduseVqInfo;
import io.vduse.iova.IovaMemory;
import io.vduse.virtqueue.DeviceQueue;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Where one device's in-flight logs live and when they are made, read and thrown away: one file
 * per queue, {@code DIR/NAME/queue-N.inflight}. Message thread only.
 *
 * <p>A log describes the last run of its queue in the current driver session: a new run from a
 * known state writes a new one, a reset of the driver or a new device of the same name throws
 * them away, and a process taking the device over reads them ({@link #recover}).
 */
final class InflightLogs {

    private static final System.Logger LOG = System.getLogger(InflightLogs.class.getName());

    private final Path directory;
    private final String deviceName;
    private final int capacity;
    private final InflightLog.CrashHook crash;

    InflightLogs(Path base, String deviceName, int capacity, InflightLog.CrashHook crash) {
        this.directory = base.resolve(deviceName);
        this.deviceName = deviceName;
        this.capacity = capacity;
        this.crash = crash;
    }

    /** {@code $XDG_RUNTIME_DIR/vduse-java} where that is set, {@code /run/vduse-java} otherwise. */
    static Path defaultBase() {
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        if (runtime != null && !runtime.isEmpty() && Files.isDirectory(Path.of(runtime))) {
            return Path.of(runtime, "vduse-java");
        }
        return Path.of("/run/vduse-java");
    }

    Path directory() {
        return directory;
    }

    Path file(int queue) {
        return directory.resolve("queue-" + queue + ".inflight");
    }

    /**
     * A new log for queue {@code index}, whose ring was just made from a known state with nothing
     * in flight. If the file cannot be written the queue serves without one (a process taking
     * the device over then finds none for it), and the error is logged.
     */
    InflightLog begin(int index, VduseVqInfo vq, DeviceQueue ring) {
        Path file = file(index);
        try {
            if (!Files.isDirectory(directory)) {
                Files.createDirectories(directory,
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            return InflightLog.create(file, capacity, vq, ring, crash);
        } catch (IOException | RuntimeException e) {
            InflightLog.deleteQuietly(file);
            LOG.log(Level.ERROR, "{0}: queue {1} serves without an in-flight log: {2} cannot be written ({3}); a "
                    + "process taking the device over cannot resume it exactly", deviceName, index, file, e.toString());
            return null;
        }
    }

    /**
     * The log of queue {@code index} that a process which served it left, settled against the
     * ring; null if there is none or it does not fit the ring (said in the log).
     */
    InflightLog recover(int index, VduseVqInfo vq, boolean packed, IovaMemory memory) {
        Path file = file(index);
        try {
            InflightLog log = InflightLog.recover(file, vq, packed, memory, crash);
            if (log == null) {
                LOG.log(Level.DEBUG, "{0}: queue {1} has no in-flight log at {2}", deviceName, index, file);
            } else {
                LOG.log(Level.INFO, "{0}: queue {1} resumes from its in-flight log at {2}, {3} request(s) to serve "
                        + "again", deviceName, index, file, log.resubmissions());
            }
            return log;
        } catch (IOException | InflightLog.Unusable e) {
            LOG.log(Level.WARNING, "{0}: queue {1}: the in-flight log cannot be used: {2}", deviceName, index,
                    e.getMessage());
            return null;
        }
    }

    /** Throws every queue's log away: the driver reset the device, or the device is new or gone. */
    void discardAll(int queues) {
        for (int i = 0; i < queues; i++) {
            InflightLog.deleteQuietly(file(i));
        }
        try {
            Files.deleteIfExists(directory); // made again by the next begin
        } catch (IOException e) {
            // Not empty (a file of another tool, a queue beyond the count) or not ours: leave it.
        }
    }
}
