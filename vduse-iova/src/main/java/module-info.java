/**
 * The IOVA domain: the IOTLB interval tree, the IOVA allocator, the kernel-side domain model
 * (bounce map and coherent allocations) and the device-side address space that turns an IOVA
 * from a descriptor into memory.
 */
module io.vduse.iova {
    requires transitive io.vduse.api;

    exports io.vduse.iova;
}
