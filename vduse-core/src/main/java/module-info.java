/**
 * The vduse-java SDK: what a device author codes against. Native calls go through the Foreign
 * Function &amp; Memory API, so the module needs {@code --enable-native-access=io.vduse.core}.
 */
module io.vduse.core {
    requires transitive io.vduse.api;
    requires transitive io.vduse.virtqueue;

    exports io.vduse.core;
    exports io.vduse.core.sim;
}
