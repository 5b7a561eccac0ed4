/**
 * A virtio-net device built on the public API of the vduse-java SDK
 * ({@link io.vduse.net.VirtioNetDevice}): one receive and one transmit queue, the
 * {@code virtio_net_hdr} with its checksum and segmentation offloads, link state in the config
 * space, and the {@link io.vduse.net.NetBackend} that carries frames to and from the device
 * ({@link io.vduse.net.VirtualCable}: two devices wired to each other in one process).
 */
module io.vduse.net {
    requires transitive io.vduse.core;

    exports io.vduse.net;
}
