/**
 * A device template for the vduse-java SDK: {@link io.vduse.examples.PatternDisk}, a read-only
 * virtio-blk device whose every sector holds its own number, written only against the SDK's
 * exported API. Copy the module and change the handler to make a device of your own.
 */
module io.vduse.examples {
    requires transitive io.vduse.core;

    exports io.vduse.examples;
}
