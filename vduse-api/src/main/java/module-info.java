/**
 * The Linux VDUSE userspace API ({@code include/uapi/linux/vduse.h}) and the virtio constants,
 * as Java: ioctl numbers, struct layouts with typed access, control messages, and the virtio
 * feature bits, status bits, ring flags and virtio-blk definitions the other modules need.
 *
 * <p>No dependencies and no native calls: everything here is data.
 */
module io.vduse.api {
    exports io.vduse.api;
    exports io.vduse.api.virtio;
}
