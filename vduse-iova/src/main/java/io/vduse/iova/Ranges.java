package io.vduse.iova;

/**
 * Checks on inclusive ranges {@code [start, last]} of the unsigned 64-bit address space.
 *
 * <p>Inclusive bounds are used throughout, as in the kernel's IOTLB, because the top of the
 * space ({@code 2^64 - 1}, {@code -1L} as a Java long) must be a valid last address while its
 * exclusive end {@code 2^64} has no 64-bit representation.
 */
final class Ranges {

    private Ranges() {}

    /** Throws if {@code last} lies below {@code start} (unsigned). */
    static void checkRange(long start, long last) {
        if (Long.compareUnsigned(last, start) < 0) {
            throw new IllegalArgumentException(
                    "IOVA range [0x%x, 0x%x]: last is below start".formatted(start, last));
        }
    }

    /** Whether {@code [aStart, aLast]} and {@code [bStart, bLast]} share an address. */
    static boolean overlaps(long aStart, long aLast, long bStart, long bLast) {
        return Long.compareUnsigned(aStart, bLast) <= 0 && Long.compareUnsigned(bStart, aLast) <= 0;
    }

    /** Whether {@code x} lies in {@code [start, last]}. */
    static boolean contains(long start, long last, long x) {
        return Long.compareUnsigned(x, start) >= 0 && Long.compareUnsigned(x, last) <= 0;
    }

    /** The unsigned minimum. */
    static long min(long a, long b) {
        return Long.compareUnsigned(a, b) <= 0 ? a : b;
    }

    /** The unsigned maximum. */
    static long max(long a, long b) {
        return Long.compareUnsigned(a, b) >= 0 ? a : b;
    }

    /**
     * Checks a buffer of {@code length} bytes (unsigned) at {@code iova} from a descriptor.
     *
     * @throws IovaFault {@link IovaFault.Reason#ZERO_LENGTH} or {@link IovaFault.Reason#OVERFLOW}
     */
    static void checkBuffer(long iova, long length, Access access) {
        if (length == 0) {
            throw new IovaFault(IovaFault.Reason.ZERO_LENGTH, iova, length, access);
        }
        if (Long.compareUnsigned(iova + length - 1, iova) < 0) {
            throw new IovaFault(IovaFault.Reason.OVERFLOW, iova, length, access);
        }
    }
}
