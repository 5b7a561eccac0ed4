package io.vduse.core;

import io.vduse.core.internal.linux.LinuxVduseKernel;
import java.nio.file.Path;

/**
 * Where the VDUSE character devices come from: the real kernel ({@link #linux()}) or the
 * in-process simulated kernel ({@code io.vduse.core.sim.SimulatedKernel}). This is the one seam
 * between the SDK and the kernel: everything else is the same code for both.
 */
public interface VduseKernel {

    /** The real kernel: {@code /dev/vduse/control} and {@code /dev/vduse/$NAME}. */
    static VduseKernel linux() {
        return LinuxVduseKernel.INSTANCE;
    }

    /**
     * Opens the control device.
     *
     * @throws ErrnoException {@code ENOENT} where the {@code vduse} module is not loaded
     */
    VduseFile openControl() throws ErrnoException;

    /**
     * Opens a device's file. The kernel lets one process at a time hold it.
     *
     * @throws ErrnoException {@code EBUSY} if another holder has it open, {@code ENOENT} if there
     *     is no such device
     */
    VduseFile openDevice(String name) throws ErrnoException;

    /** Whether a device of that name exists. */
    boolean deviceExists(String name);

    /** A short description for log messages, e.g. {@code linux} or {@code simulated}. */
    String description();

    /**
     * Where devices of this kernel keep, by default, what must outlive their process: the
     * in-flight logs ({@link VduseDevice.Builder#inflightLog(Path)}). For the real kernel
     * {@code $XDG_RUNTIME_DIR/vduse-java} where that is set, {@code /run/vduse-java} otherwise.
     */
    default Path runtimeDirectory() {
        return InflightLogs.defaultBase();
    }
}
