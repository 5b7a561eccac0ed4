package io.vduse.iova;

/**
 * What the device may do with a range of IOVA space, or what it needs to do with a buffer.
 *
 * <p>The permission of an IOTLB entry ({@code VDUSE_ACCESS_RO}, {@code _WO}, {@code _RW}) is
 * from the device's point of view: a buffer the driver offers for reading is mapped
 * {@link #READ}, one the device fills is mapped {@link #WRITE}. Mapping memory with a stronger
 * protection than the entry grants would let a device write into a read-only {@code mmap}, which
 * kills the JVM with SIGSEGV, so every translation checks the access before memory is touched.
 */
public enum Access {
    /** The device may read ({@code VDUSE_ACCESS_RO}). */
    READ(1),
    /** The device may write ({@code VDUSE_ACCESS_WO}). */
    WRITE(2),
    /** The device may read and write ({@code VDUSE_ACCESS_RW}). */
    READ_WRITE(3);

    private final int vdusePerm;

    Access(int vdusePerm) {
        this.vdusePerm = vdusePerm;
    }

    /** The {@code perm} value of {@code struct vduse_iotlb_entry} for this access. */
    public int vdusePerm() {
        return vdusePerm;
    }

    /** Whether a range with this permission allows the {@code requested} access. */
    public boolean allows(Access requested) {
        return (vdusePerm & requested.vdusePerm) == requested.vdusePerm;
    }

    /**
     * The access for a {@code perm} value as the kernel reports it.
     *
     * @throws IllegalArgumentException for a value other than 1, 2 or 3 (the kernel never
     *     hands out an entry without access)
     */
    public static Access ofVdusePerm(int perm) {
        return switch (perm) {
            case 1 -> READ;
            case 2 -> WRITE;
            case 3 -> READ_WRITE;
            default -> throw new IllegalArgumentException("not a VDUSE access permission: " + perm);
        };
    }
}
