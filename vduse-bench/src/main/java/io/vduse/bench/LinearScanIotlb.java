package io.vduse.bench;

import io.vduse.iova.Access;
import io.vduse.iova.IovaFault;
import io.vduse.iova.Mapping;

/**
 * The baseline for IOTLB translation: what libvduse does ({@code iova_to_va} in
 * {@code subprojects/libvduse/libvduse.c} walks {@code dev->regions[]} from the first until one
 * holds the address). Here over flat arrays of starts and lasts, which is as kind to the scan as
 * a Java version can be; the permission check matches {@link io.vduse.iova.AddressSpace}'s.
 */
final class LinearScanIotlb {

    private final long[] starts;
    private final long[] lasts;
    private final Mapping[] mappings;

    LinearScanIotlb(Mapping[] mappings) {
        this.mappings = mappings.clone();
        this.starts = new long[mappings.length];
        this.lasts = new long[mappings.length];
        for (int i = 0; i < mappings.length; i++) {
            starts[i] = mappings[i].start();
            lasts[i] = mappings[i].last();
        }
    }

    Mapping mapping(long iova, Access access) {
        for (int i = 0; i < starts.length; i++) {
            if (Long.compareUnsigned(iova, starts[i]) >= 0 && Long.compareUnsigned(iova, lasts[i]) <= 0) {
                Mapping m = mappings[i];
                if (!m.access().allows(access)) {
                    throw new IovaFault(IovaFault.Reason.PERMISSION, iova, 0, access);
                }
                return m;
            }
        }
        throw new IovaFault(IovaFault.Reason.UNMAPPED, iova, 0, access);
    }
}
