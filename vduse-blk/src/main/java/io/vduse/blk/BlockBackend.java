package io.vduse.blk;

import io.vduse.virtqueue.IoVectors;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Where a block device keeps its bytes. Offsets and lengths are in bytes; the device checks them
 * against the capacity and the logical block size before calling, so a backend sees only
 * in-range, block-aligned requests.
 *
 * <p>Every method may be called by several threads at once (each queue's thread, and with
 * {@link BlkOptions#ioThreads()} several I/O threads per queue), so implementations are
 * thread-safe. The buffers of {@link #read} and {@link #write} are
 * native memory aligned to {@link #BUFFER_ALIGNMENT}, which is what {@code O_DIRECT} asks for; a
 * backend may also take the driver's buffers themselves ({@link #vectorAlignment()}). A method
 * that fails throws {@link IOException}: the device answers that request with
 * {@code VIRTIO_BLK_S_IOERR} and goes on with the next.
 */
public interface BlockBackend extends AutoCloseable {

    /** The alignment of the buffers the device passes to {@link #read} and {@link #write}. */
    long BUFFER_ALIGNMENT = 4096;

    /** The size in bytes, as last learnt (at open, or at the last {@link #resize} or {@link #refreshSize}). */
    long size();

    /**
     * Reads the size again from the medium (a file may have been grown by someone else) and
     * returns it; backends whose size only changes through {@link #resize} return {@link #size()}.
     */
    long refreshSize() throws IOException;

    /** Copies {@code length} bytes at {@code offset} into the start of {@code buffer}. */
    void read(long offset, MemorySegment buffer, long length) throws IOException;

    /** Copies {@code length} bytes from the start of {@code buffer} to {@code offset}. */
    void write(long offset, MemorySegment buffer, long length) throws IOException;

    /**
     * What the pieces given to {@link #readVectors} and {@link #writeVectors} must be aligned to
     * (a power of two), or 0 when this backend takes no vectors and every transfer goes through
     * {@link #read} and {@link #write}. The default is 0.
     */
    default long vectorAlignment() {
        return 0;
    }

    /**
     * Reads {@code vectors.totalLength()} bytes at {@code offset} straight into the memory that
     * {@code vectors} describes (the driver's buffers), saving the copy through a buffer of the
     * device's. {@code vectors} may be changed. Called only if {@link #vectorAlignment()} is not 0,
     * with pieces aligned to it.
     */
    default void readVectors(long offset, IoVectors vectors) throws IOException {
        throw new UnsupportedOperationException(describe() + " takes no I/O vectors");
    }

    /**
     * Writes the memory that {@code vectors} describes (the driver's buffers) to {@code offset};
     * the counterpart of {@link #readVectors}.
     */
    default void writeVectors(long offset, IoVectors vectors) throws IOException {
        throw new UnsupportedOperationException(describe() + " takes no I/O vectors");
    }

    /** Makes every completed write durable ({@code VIRTIO_BLK_T_FLUSH}). */
    void flush() throws IOException;

    /**
     * Tells the medium that a range is no longer needed ({@code VIRTIO_BLK_T_DISCARD}). Advisory:
     * afterwards the range may read as zeros or as its old bytes.
     */
    void discard(long offset, long length) throws IOException;

    /**
     * Makes a range read as zeros ({@code VIRTIO_BLK_T_WRITE_ZEROES}).
     *
     * @param unmap whether the space may be deallocated as well (a hole in a file)
     */
    void writeZeroes(long offset, long length, boolean unmap) throws IOException;

    /**
     * Changes the size to {@code newSize} bytes.
     *
     * @throws IOException if the medium cannot change its size (a block device) or refuses
     */
    void resize(long newSize) throws IOException;

    /** What the backend is, for messages: {@code file /var/disk.img (O_DIRECT)}. */
    String describe();

    /** Releases the medium (closes the file). */
    @Override
    void close() throws IOException;
}
