/**
 * The virtio-blk reference device built on the vduse-java SDK: request handling
 * ({@link io.vduse.blk.VirtioBlkDevice}), the block backends behind it (a file or block device,
 * or memory), and the {@code vduse-blk} command-line tool ({@code io.vduse.blk.cli.Main}).
 */
module io.vduse.blk {
    requires transitive io.vduse.core;
    requires info.picocli;

    exports io.vduse.blk;

    // picocli fills the command's annotated fields by reflection.
    opens io.vduse.blk.cli to info.picocli;
}
