package io.vduse.blk;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;

/** Wraps a backend: counts flushes, and fails the writes that {@code failWrite} picks (by number, from 1). */
final class CountingBackend implements BlockBackend {

    final AtomicInteger flushes = new AtomicInteger();
    final AtomicInteger writes = new AtomicInteger();
    private final BlockBackend inner;
    private final IntPredicate failWrite;

    CountingBackend(BlockBackend inner) {
        this(inner, n -> false);
    }

    CountingBackend(BlockBackend inner, IntPredicate failWrite) {
        this.inner = inner;
        this.failWrite = failWrite;
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public long refreshSize() throws IOException {
        return inner.refreshSize();
    }

    @Override
    public void read(long offset, MemorySegment buffer, long length) throws IOException {
        inner.read(offset, buffer, length);
    }

    @Override
    public void write(long offset, MemorySegment buffer, long length) throws IOException {
        if (failWrite.test(writes.incrementAndGet())) {
            throw new IOException("injected failure of write " + writes.get());
        }
        inner.write(offset, buffer, length);
    }

    @Override
    public void flush() throws IOException {
        flushes.incrementAndGet();
        inner.flush();
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        inner.discard(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        inner.writeZeroes(offset, length, unmap);
    }

    @Override
    public void resize(long newSize) throws IOException {
        inner.resize(newSize);
    }

    @Override
    public String describe() {
        return "counting " + inner.describe();
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}
