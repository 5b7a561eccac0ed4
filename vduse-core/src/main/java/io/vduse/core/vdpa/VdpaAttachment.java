package io.vduse.core.vdpa;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A device on the vDPA bus, bound to a driver.
 *
 * @param name the vDPA (and VDUSE) device name
 * @param driver the driver it is bound to
 * @param node what the driver made of it: {@code /dev/vdX} for a disk under {@code virtio_vdpa},
 *     {@code /dev/vhost-vdpa-N} under {@code vhost_vdpa}; empty when sysfs shows none (a
 *     {@code virtio_vdpa} device of a class that makes no block device)
 */
public record VdpaAttachment(String name, VdpaDriver driver, Optional<Path> node) {

    /** The node, or the driver's name when there is none, for a line of output. */
    public String describe() {
        return node.map(Path::toString).orElse(driver.moduleName());
    }
}
