/**
 * Virtio constants from the virtio 1.2 specification: device status, transport feature bits,
 * device ids, ring flags, and the virtio-blk device.
 */
package io.vduse.api.virtio;
