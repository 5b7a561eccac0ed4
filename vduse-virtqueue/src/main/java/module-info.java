/**
 * Split and packed virtqueues (virtio 1.2, sections 2.7 and 2.8), device side and driver side,
 * over memory reached through {@link io.vduse.iova.IovaMemory}.
 */
module io.vduse.virtqueue {
    requires transitive io.vduse.iova;

    exports io.vduse.virtqueue;
}
