package io.vduse.api;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/** Fixed-size, NUL-terminated name buffers such as {@code char name[VDUSE_NAME_MAX]}. */
final class CNames {

    private CNames() {}

    /**
     * The bytes of {@code name} as the kernel will see them.
     *
     * @throws IllegalArgumentException if the name is empty, holds a NUL, or does not fit
     *     {@code capacity} bytes with its terminating NUL
     */
    static byte[] encode(String name, int capacity) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0) {
            throw new IllegalArgumentException("device name is empty");
        }
        if (bytes.length > capacity - 1) {
            throw new IllegalArgumentException(
                    "device name of %d bytes is too long: at most %d bytes (VDUSE_NAME_MAX %d, less the NUL)"
                            .formatted(bytes.length, capacity - 1, capacity));
        }
        for (byte b : bytes) {
            if (b == 0) {
                throw new IllegalArgumentException("device name holds a NUL byte");
            }
        }
        return bytes;
    }

    /** Writes {@code name} NUL-terminated into {@code capacity} bytes at {@code offset}, zero-filled. */
    static void write(MemorySegment segment, long offset, int capacity, String name) {
        byte[] bytes = encode(name, capacity);
        MemorySegment field = segment.asSlice(offset, capacity);
        field.fill((byte) 0);
        MemorySegment.copy(bytes, 0, field, Layouts.U8, 0, bytes.length);
    }

    /** Reads a name up to its NUL, or all {@code capacity} bytes if none. */
    static String read(MemorySegment segment, long offset, int capacity) {
        int length = 0;
        while (length < capacity && segment.get(Layouts.U8, offset + length) != 0) {
            length++;
        }
        byte[] bytes = new byte[length];
        MemorySegment.copy(segment, Layouts.U8, offset, bytes, 0, length);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
