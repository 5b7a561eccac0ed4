package io.vduse.blk;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A block backend in native memory, zero-filled at start, lost at exit: for tests, and for
 * {@code vduse-blk --simulate}. Room for {@code maxSize} bytes is reserved up front, so that
 * {@link #resize} up to it never moves the memory under a request in flight.
 */
public final class MemoryBackend implements BlockBackend {

    private final Arena arena = Arena.ofShared();
    private final MemorySegment memory;
    private volatile long size;

    /**
     * A backend of {@code size} bytes that may grow to {@code maxSize}.
     *
     * @throws IllegalArgumentException if {@code size} is negative or above {@code maxSize}
     */
    public MemoryBackend(long size, long maxSize) {
        if (size < 0 || size > maxSize) {
            throw new IllegalArgumentException("memory backend size %d outside 0..%d".formatted(size, maxSize));
        }
        this.memory = arena.allocate(maxSize, BUFFER_ALIGNMENT);
        this.size = size;
    }

    /** A backend of {@code size} bytes that cannot grow. */
    public MemoryBackend(long size) {
        this(size, size);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public long refreshSize() {
        return size;
    }

    @Override
    public void read(long offset, MemorySegment buffer, long length) throws IOException {
        check(offset, length);
        MemorySegment.copy(memory, offset, buffer, 0, length);
    }

    @Override
    public void write(long offset, MemorySegment buffer, long length) throws IOException {
        check(offset, length);
        MemorySegment.copy(buffer, 0, memory, offset, length);
    }

    @Override
    public void flush() {
        // Memory is as durable as it gets.
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        // Zeroing is one of the two outcomes discard allows, and makes reads predictable.
        writeZeroes(offset, length, true);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        check(offset, length);
        memory.asSlice(offset, length).fill((byte) 0);
    }

    @Override
    public synchronized void resize(long newSize) throws IOException {
        if (newSize < 0 || newSize > memory.byteSize()) {
            throw new IOException("memory backend: cannot resize to %d bytes, room is reserved for %d"
                    .formatted(newSize, memory.byteSize()));
        }
        if (newSize > size) {
            // What a grown file reads as: zeros, whatever was there before a shrink.
            memory.asSlice(size, newSize - size).fill((byte) 0);
        }
        size = newSize;
    }

    @Override
    public String describe() {
        return "memory (%d bytes)".formatted(size);
    }

    @Override
    public void close() {
        arena.close();
    }

    private void check(long offset, long length) throws IOException {
        long limit = size;
        if (offset < 0 || length < 0 || offset > limit - length) {
            throw new IOException("memory backend: %d bytes at offset %d lie outside its %d bytes"
                    .formatted(length, offset, limit));
        }
    }
}
