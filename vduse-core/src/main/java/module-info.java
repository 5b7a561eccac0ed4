/**
 * The vduse-java SDK: what a device author codes against. Native calls go through the Foreign
 * Function &amp; Memory API, so the module needs {@code --enable-native-access=io.vduse.core}.
 */
// "module": the qualified export below names io.vduse.blk, which is built after this module.
@SuppressWarnings("module")
module io.vduse.core {
    requires transitive io.vduse.api;
    requires transitive io.vduse.virtqueue;
    // ObjectNames hands out javax.management names; the devices register MXBeans.
    requires transitive java.management;
    // The Flight Recorder events (io.vduse.*), in io.vduse.core.internal.events.
    requires jdk.jfr;
    // sun.misc.Signal, for the tools' SIGUSR1 counters (reached by reflection, see Signals): the
    // module must be resolved for Class.forName to find it.
    requires jdk.unsupported;

    exports io.vduse.core;
    exports io.vduse.core.management;
    exports io.vduse.core.sim;
    exports io.vduse.core.uring;
    exports io.vduse.core.vdpa;
    // The block device's file backend calls pread/pwrite/fallocate/fdatasync through these.
    exports io.vduse.core.internal.linux to io.vduse.blk;
}
