package io.vduse.blk.cli;

import io.vduse.core.vdpa.VdpaDriver;
import java.nio.file.Path;

/**
 * How the tool runs as a service, besides the device itself: {@code --attach} and
 * {@code --pidfile}. (Readiness is always printed, and sent to {@code NOTIFY_SOCKET} when set.)
 *
 * @param attach the vDPA driver to attach the device to once it is ready, or null to leave that
 *     to {@code vdpa dev add}
 * @param pidFile where to write the pid once ready, or null
 */
record ServiceOptions(VdpaDriver attach, Path pidFile) {

    /** No self-attach, no pidfile. */
    static final ServiceOptions NONE = new ServiceOptions(null, null);

    /**
     * The driver an {@code --attach} value names: {@code virtio} (the default when no value is
     * given) or {@code vhost}; the module names are taken too. Null for anything else.
     */
    static VdpaDriver driverOf(String value) {
        return switch (value) {
            case "virtio", "virtio_vdpa" -> VdpaDriver.VIRTIO_VDPA;
            case "vhost", "vhost_vdpa" -> VdpaDriver.VHOST_VDPA;
            default -> null;
        };
    }
}
