package io.vduse.api;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The value layouts every struct of this module is built from.
 *
 * <p>Two byte orders meet here: the kernel's uapi structs are in the host's order
 * ({@code __u32}), virtio structures are little-endian by the specification ({@code __le32},
 * {@code __virtio32} on a modern device). All layouts are unaligned so that a struct can be read
 * from any segment, including one over a {@code byte[]}; on x86-64 and arm64 this costs nothing.
 */
public final class Layouts {

    /** {@code __u8}. */
    public static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    /** {@code __u16} in host order. */
    public static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    /** {@code __u32} in host order. */
    public static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    /** {@code __u64} in host order. */
    public static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** {@code __le16}. */
    public static final ValueLayout.OfShort LE16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** {@code __le32}. */
    public static final ValueLayout.OfInt LE32 =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** {@code __le64}. */
    public static final ValueLayout.OfLong LE64 =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Layouts() {}
}
