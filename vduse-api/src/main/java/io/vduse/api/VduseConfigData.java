package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static io.vduse.api.Layouts.U8;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * {@code struct vduse_config_data}: the argument of {@code VDUSE_DEV_SET_CONFIG}, a window of the
 * config space and its new bytes.
 *
 * <pre>
 * 0 u32 offset   from the start of the config space
 * 4 u32 length
 * 8 u8  buffer[length]
 * </pre>
 *
 * <p>Only the fixed 8 bytes enter the ioctl number; the kernel then copies {@code length} more.
 *
 * @param offset first byte of the config space to update
 * @param data the new bytes, at most {@link Vduse#CONFIG_SIZE_MAX}
 */
public record VduseConfigData(int offset, byte[] data) {

    /** The fixed part; {@code buffer[]} follows it. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U32.withName("offset"),
            U32.withName("length"))
            .withName("vduse_config_data");

    /** Offset of {@code offset}. */
    public static final long OFFSET = LAYOUT.byteOffset(groupElement("offset"));
    /** Offset of {@code length}. */
    public static final long LENGTH = LAYOUT.byteOffset(groupElement("length"));
    /** Offset of {@code buffer[]}. */
    public static final long BUFFER = LAYOUT.byteSize();

    /** Checks that the window lies inside the largest config space the kernel allows. */
    public VduseConfigData {
        Objects.requireNonNull(data, "data");
        if (offset < 0 || (long) offset + data.length > Vduse.CONFIG_SIZE_MAX) {
            throw new IllegalArgumentException(
                    "config window [%d, %d) lies outside the largest config space the kernel accepts (%d bytes)"
                            .formatted(offset, (long) offset + data.length, Vduse.CONFIG_SIZE_MAX));
        }
        data = data.clone();
    }

    /** The new bytes; a copy. */
    @Override
    public byte[] data() {
        return data.clone();
    }

    /** Bytes this struct takes with its buffer. */
    public long byteSize() {
        return BUFFER + data.length;
    }

    /** Writes the struct and its buffer at the start of {@code segment}. */
    public void writeTo(MemorySegment segment) {
        segment.set(U32, OFFSET, offset);
        segment.set(U32, LENGTH, data.length);
        MemorySegment.copy(data, 0, segment, U8, BUFFER, data.length);
    }

    /**
     * Reads the struct and its buffer.
     *
     * @throws IllegalArgumentException if the window is outside the largest config space or runs
     *     past the end of the segment
     */
    public static VduseConfigData readFrom(MemorySegment segment) {
        int offset = segment.get(U32, OFFSET);
        int length = segment.get(U32, LENGTH);
        if (Integer.compareUnsigned(length, Vduse.CONFIG_SIZE_MAX) > 0
                || segment.byteSize() < BUFFER + length) {
            throw new IllegalArgumentException(
                    "config data length %s does not fit: at most %d bytes and within a %d-byte buffer"
                            .formatted(Integer.toUnsignedString(length), Vduse.CONFIG_SIZE_MAX, segment.byteSize()));
        }
        byte[] data = new byte[length];
        MemorySegment.copy(segment, U8, BUFFER, data, 0, length);
        return new VduseConfigData(offset, data);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VduseConfigData c && offset == c.offset && Arrays.equals(data, c.data);
    }

    @Override
    public int hashCode() {
        return offset * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "VduseConfigData[offset=%d, length=%d]".formatted(offset, data.length);
    }
}
