package io.vduse.blk;

import io.vduse.virtqueue.IoVectors;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;

/**
 * Wraps a backend: counts flushes, writes and vectored transfers (and the most pieces one was
 * given), fails the writes (copied or vectored) that {@code failWrite} picks (by number, from 1),
 * and passes each read (copied or vectored) through {@code beforeRead} first.
 */
final class CountingBackend implements BlockBackend {

    final AtomicInteger flushes = new AtomicInteger();
    final AtomicInteger writes = new AtomicInteger();
    final AtomicInteger copiedReads = new AtomicInteger();
    final AtomicInteger copiedWrites = new AtomicInteger();
    final AtomicInteger vectorReads = new AtomicInteger();
    final AtomicInteger vectorWrites = new AtomicInteger();
    /** The most pieces one vectored transfer was given. */
    final AtomicInteger mostVectors = new AtomicInteger();
    private final BlockBackend inner;
    private final IntPredicate failWrite;
    private final Gate beforeRead;

    /** What a read waits on or fails with before it reaches the wrapped backend. */
    @FunctionalInterface
    interface Gate {
        void pass() throws IOException;
    }

    CountingBackend(BlockBackend inner) {
        this(inner, n -> false);
    }

    CountingBackend(BlockBackend inner, IntPredicate failWrite) {
        this(inner, failWrite, () -> {});
    }

    CountingBackend(BlockBackend inner, IntPredicate failWrite, Gate beforeRead) {
        this.inner = inner;
        this.failWrite = failWrite;
        this.beforeRead = beforeRead;
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
        beforeRead.pass();
        copiedReads.incrementAndGet();
        inner.read(offset, buffer, length);
    }

    @Override
    public void write(long offset, MemorySegment buffer, long length) throws IOException {
        if (failWrite.test(writes.incrementAndGet())) {
            throw new IOException("injected failure of write " + writes.get());
        }
        copiedWrites.incrementAndGet();
        inner.write(offset, buffer, length);
    }

    @Override
    public long vectorAlignment() {
        return inner.vectorAlignment();
    }

    @Override
    public void readVectors(long offset, IoVectors vectors) throws IOException {
        beforeRead.pass();
        vectorReads.incrementAndGet();
        mostVectors.accumulateAndGet(vectors.count(), Math::max);
        inner.readVectors(offset, vectors);
    }

    @Override
    public void writeVectors(long offset, IoVectors vectors) throws IOException {
        if (failWrite.test(writes.incrementAndGet())) {
            throw new IOException("injected failure of write " + writes.get());
        }
        vectorWrites.incrementAndGet();
        mostVectors.accumulateAndGet(vectors.count(), Math::max);
        inner.writeVectors(offset, vectors);
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
