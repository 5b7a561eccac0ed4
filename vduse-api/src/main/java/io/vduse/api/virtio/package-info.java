/**
 * Virtio constants from the virtio 1.2 specification: device status, transport feature bits,
 * device ids, ring flags, and the virtio-blk and virtio-net devices.
 */
package io.vduse.api.virtio;
