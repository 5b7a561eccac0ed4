package io.vduse.core.sim;

/**
 * How a simulated device's IOTLB answers {@code VDUSE_IOTLB_GET_FD}: the first entry overlapping
 * a range, with the file that backs it. The driver side installs one when it attaches, as the
 * kernel creates a device's IOVA domain then.
 */
interface IotlbLookup {

    /**
     * One IOTLB entry.
     *
     * @param start first IOVA
     * @param last last IOVA, inclusive
     * @param offset offset of {@code start} in {@code fd}
     * @param perm {@code VDUSE_ACCESS_*}
     * @param fd the file behind the entry; the caller duplicates it before handing it out
     */
    record Entry(long start, long last, long offset, int perm, int fd) {}

    /** The first entry of address space {@code asid} overlapping {@code [start, last]}, or {@code null}. */
    Entry firstOverlapping(int asid, long start, long last);
}
