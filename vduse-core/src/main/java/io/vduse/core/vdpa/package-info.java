/**
 * The vDPA bus: attaching a started VDUSE device to the kernel's {@code virtio_vdpa} (the host
 * sees it as its own virtio device, e.g. {@code /dev/vdX}) or {@code vhost_vdpa} (a
 * {@code /dev/vhost-vdpa-N} for a VM), and detaching it, through the kernel's {@code vdpa}
 * generic netlink family, as {@code vdpa dev add name NAME mgmtdev vduse} does.
 */
package io.vduse.core.vdpa;
