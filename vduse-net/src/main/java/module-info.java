/**
 * A virtio-net device built on the public API of the vduse-java SDK
 * ({@link io.vduse.net.VirtioNetDevice}): one receive and one transmit queue, the
 * {@code virtio_net_hdr} with its checksum and segmentation offloads, link state in the config
 * space, and the {@link io.vduse.net.NetBackend} that carries frames to and from the device
 * ({@link io.vduse.net.VirtualCable}: two devices wired to each other in one process;
 * {@link io.vduse.net.TapBackend}: a TAP interface), and the {@code vduse-net} command-line tool
 * ({@code io.vduse.net.cli.Main}).
 */
module io.vduse.net {
    requires transitive io.vduse.core;
    requires info.picocli;

    exports io.vduse.net;

    // picocli fills the command's annotated fields by reflection.
    opens io.vduse.net.cli to info.picocli;
}
