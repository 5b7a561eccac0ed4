package io.vduse.api;

import java.lang.foreign.MemoryLayout;

/**
 * One ioctl request: its name and the number the kernel expects, built by the {@code _IOC}
 * encoding of {@code include/uapi/asm-generic/ioctl.h} (x86-64, arm64, riscv64):
 *
 * <pre>
 *  31  30 29            16 15         8 7          0
 * +------+----------------+------------+------------+
 * | dir  |  argument size |    type    |     nr     |
 * +------+----------------+------------+------------+
 * </pre>
 *
 * <p>The size is taken from the argument's {@link MemoryLayout}, so a layout that drifts from the
 * kernel's struct also changes the number, and the header probe test catches both.
 *
 * @param name the C macro name, for error messages ({@code VDUSE_CREATE_DEV})
 * @param direction which way the argument travels
 * @param type the ioctl type byte ({@code VDUSE_BASE} for all of VDUSE)
 * @param nr the request number within the type
 * @param argumentSize size in bytes of the argument struct, 0 for none
 */
public record Ioctl(String name, Direction direction, int type, int nr, long argumentSize) {

    private static final int NR_BITS = 8;
    private static final int TYPE_BITS = 8;
    private static final int SIZE_BITS = 14;
    private static final int NR_SHIFT = 0;
    private static final int TYPE_SHIFT = NR_SHIFT + NR_BITS;
    private static final int SIZE_SHIFT = TYPE_SHIFT + TYPE_BITS;
    private static final int DIR_SHIFT = SIZE_SHIFT + SIZE_BITS;

    /** Which way an ioctl argument is copied, as seen from userspace. */
    public enum Direction {
        /** {@code _IOC_NONE}: no argument. */
        NONE(0),
        /** {@code _IOC_WRITE}: userspace writes the argument, the kernel reads it ({@code _IOW}). */
        WRITE(1),
        /** {@code _IOC_READ}: the kernel fills the argument ({@code _IOR}). */
        READ(2),
        /** {@code _IOC_READ | _IOC_WRITE}: both ({@code _IOWR}). */
        READ_WRITE(3);

        private final int bits;

        Direction(int bits) {
            this.bits = bits;
        }

        /** The two direction bits of the request number. */
        public int bits() {
            return bits;
        }
    }

    /** Checks that each field fits its bit field. */
    public Ioctl {
        if (type < 0 || type >= 1 << TYPE_BITS) {
            throw new IllegalArgumentException("ioctl type out of range: " + type);
        }
        if (nr < 0 || nr >= 1 << NR_BITS) {
            throw new IllegalArgumentException("ioctl nr out of range: " + nr);
        }
        if (argumentSize < 0 || argumentSize >= 1 << SIZE_BITS) {
            throw new IllegalArgumentException("ioctl argument size out of range: " + argumentSize);
        }
        if ((direction == Direction.NONE) != (argumentSize == 0)) {
            throw new IllegalArgumentException(name + ": an argument size goes with a direction");
        }
    }

    /** {@code _IO(type, nr)}: an ioctl without argument. */
    public static Ioctl none(String name, int type, int nr) {
        return new Ioctl(name, Direction.NONE, type, nr, 0);
    }

    /** {@code _IOR(type, nr, T)}: the kernel writes a {@code T}. */
    public static Ioctl read(String name, int type, int nr, MemoryLayout argument) {
        return new Ioctl(name, Direction.READ, type, nr, argument.byteSize());
    }

    /** {@code _IOW(type, nr, T)}: the kernel reads a {@code T}. */
    public static Ioctl write(String name, int type, int nr, MemoryLayout argument) {
        return new Ioctl(name, Direction.WRITE, type, nr, argument.byteSize());
    }

    /** {@code _IOWR(type, nr, T)}: the kernel reads a {@code T} and writes it back. */
    public static Ioctl readWrite(String name, int type, int nr, MemoryLayout argument) {
        return new Ioctl(name, Direction.READ_WRITE, type, nr, argument.byteSize());
    }

    /**
     * The request number as passed to {@code ioctl(2)}: an {@code unsigned long} in C, given here
     * as the 32-bit pattern in a {@code long} with no sign extension.
     */
    public long request() {
        return ((long) direction.bits() << DIR_SHIFT)
                | (argumentSize << SIZE_SHIFT)
                | ((long) type << TYPE_SHIFT)
                | ((long) nr << NR_SHIFT);
    }

    @Override
    public String toString() {
        return "%s (0x%08x)".formatted(name, request());
    }
}
