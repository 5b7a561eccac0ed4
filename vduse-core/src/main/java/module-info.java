/**
 * The vduse-java SDK: what a device author codes against. Native calls go through the Foreign
 * Function &amp; Memory API, so the module needs {@code --enable-native-access=io.vduse.core}.
 */
module io.vduse.core {
    requires transitive io.vduse.api;

    exports io.vduse.core;
}
