package io.vduse.blk;

import io.vduse.api.Vduse;
import io.vduse.api.virtio.VirtioBlk;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How a {@link VirtioBlkDevice} presents itself; the names follow qemu-storage-daemon's
 * {@code vduse-blk} export where they overlap.
 *
 * @param name the VDUSE device name ({@code /dev/vduse/NAME}, {@code vdpa dev add name NAME})
 * @param numQueues request queues, 1 to {@link #MAX_QUEUES}
 * @param queueSize the largest ring per queue, a power of two from 4 to {@link #MAX_QUEUE_SIZE}
 * @param logicalBlockSize the block size the driver sees, a power of two from 512 to 4096
 * @param serial what GET_ID answers, at most {@value VirtioBlk#ID_BYTES} ASCII characters
 * @param readOnly offer {@code VIRTIO_BLK_F_RO} and fail every write
 * @param reconnect take over a device of this name left by a process that stopped
 * @param busyPoll spin on the rings instead of waiting for kicks
 * @param packedRing offer {@code VIRTIO_F_RING_PACKED} besides split rings (the driver picks); on
 *     by default: a reconnecting process resumes either layout from the queues' in-flight logs
 * @param apiVersion the VDUSE API version to create the device with (0 or 1), or
 *     {@link #HIGHEST_API_VERSION} for the highest the kernel offers (1 on Linux 7.3, 0 on 6.12)
 * @param inflightDirectory where the queues' in-flight logs live (the device's own directory in
 *     it), which a reconnecting process must be given too; null for the SDK's default,
 *     {@code $XDG_RUNTIME_DIR/vduse-java} or {@code /run/vduse-java}
 * @param userBounceMemory hand the kernel the device's own memory as the bounce buffer
 *     ({@code VduseDevice.Builder#userBounceMemory}); off by default
 * @param ioThreads with {@link BlkAio#THREADS}, how many requests of each queue are served at
 *     once, each on an I/O thread of the queue's ({@code --io-threads}); 0 with the other engines
 * @param aio how each queue's requests are served ({@code --aio}); {@link BlkAio#IO_URING} by
 *     default, which falls back to {@link BlkAio#THREADS} where the kernel refuses io_uring
 */
public record BlkOptions(String name, int numQueues, int queueSize, int logicalBlockSize, String serial,
        boolean readOnly, boolean reconnect, boolean busyPoll, boolean packedRing, long apiVersion,
        Path inflightDirectory, boolean userBounceMemory, int ioThreads, BlkAio aio) {

    /** {@link #apiVersion()}: the highest version both the kernel and the SDK know. */
    public static final long HIGHEST_API_VERSION = -1;

    /** The most request queues (the config space's {@code num_queues} is 16 bits; 64 is plenty). */
    public static final int MAX_QUEUES = 64;
    /** The largest ring: as QEMU's export, 1024. */
    public static final int MAX_QUEUE_SIZE = 1024;
    /** I/O threads per queue where {@link BlkAio#THREADS} is chosen without a count (a fallback from io_uring). */
    public static final int DEFAULT_IO_THREADS = 8;
    /** The most I/O threads per queue ({@link #ioThreads}): more than a ring of 1024 could keep busy is waste. */
    public static final int MAX_IO_THREADS = 256;
    /** The largest logical block size: Linux's virtio_blk ignores a {@code blk_size} above a page. */
    public static final int MAX_LOGICAL_BLOCK_SIZE = 4096;

    /**
     * Checks every value.
     *
     * @throws IllegalArgumentException naming the value that is wrong and what is allowed
     */
    public BlkOptions {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(serial, "serial");
        if (name.isEmpty() || name.contains("/") || name.getBytes(StandardCharsets.UTF_8).length >= Vduse.NAME_MAX) {
            throw new IllegalArgumentException("name must be 1 to " + (Vduse.NAME_MAX - 1)
                    + " bytes without '/': '" + name + "'");
        }
        if (numQueues < 1 || numQueues > MAX_QUEUES) {
            throw new IllegalArgumentException("num-queues must be 1 to " + MAX_QUEUES + ": " + numQueues);
        }
        if (queueSize < 4 || queueSize > MAX_QUEUE_SIZE || Integer.bitCount(queueSize) != 1) {
            throw new IllegalArgumentException("queue-size must be a power of two from 4 to " + MAX_QUEUE_SIZE
                    + ": " + queueSize);
        }
        if (logicalBlockSize < VirtioBlk.SECTOR_SIZE || logicalBlockSize > MAX_LOGICAL_BLOCK_SIZE
                || Integer.bitCount(logicalBlockSize) != 1) {
            throw new IllegalArgumentException("logical-block-size must be a power of two from 512 to "
                    + MAX_LOGICAL_BLOCK_SIZE + ": " + logicalBlockSize);
        }
        if (serial.length() > VirtioBlk.ID_BYTES || !StandardCharsets.US_ASCII.newEncoder().canEncode(serial)) {
            throw new IllegalArgumentException("serial must be at most " + VirtioBlk.ID_BYTES
                    + " ASCII characters: '" + serial + "'");
        }
        if (apiVersion != HIGHEST_API_VERSION && apiVersion != Vduse.API_VERSION_0 && apiVersion != Vduse.API_VERSION_1) {
            throw new IllegalArgumentException("vduse-api must be 0 or 1: " + apiVersion);
        }
        Objects.requireNonNull(aio, "aio");
        if (ioThreads < 0 || ioThreads > MAX_IO_THREADS) {
            throw new IllegalArgumentException("io-threads must be 0 to " + MAX_IO_THREADS + ": " + ioThreads);
        }
        if ((aio == BlkAio.THREADS) != (ioThreads > 0)) {
            throw new IllegalArgumentException("io-threads is 1 to " + MAX_IO_THREADS + " with aio threads and 0 "
                    + "otherwise: " + ioThreads + " with aio " + aio.cliName());
        }
    }

    /**
     * One queue of 256, 512-byte blocks, the name as serial, writable, no reconnect, no busy
     * polling, split and packed rings offered, in-flight logs in the SDK's default place, the
     * kernel's own bounce pages, requests served through an io_uring per queue.
     */
    public static BlkOptions defaults(String name) {
        return new BlkOptions(name, 1, 256, VirtioBlk.SECTOR_SIZE, name.length() <= VirtioBlk.ID_BYTES ? name : "",
                false, false, false, true, HIGHEST_API_VERSION, null, false, 0, BlkAio.IO_URING);
    }

    /** These options with the VDUSE API version pinned ({@link #HIGHEST_API_VERSION}: not pinned). */
    public BlkOptions withApiVersion(long value) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, readOnly, reconnect, busyPoll,
                packedRing, value, inflightDirectory, userBounceMemory, ioThreads, aio);
    }

    /** These options with {@code numQueues} queues of {@code queueSize}. */
    public BlkOptions withQueues(int count, int size) {
        return new BlkOptions(name, count, size, logicalBlockSize, serial, readOnly, reconnect, busyPoll,
                packedRing, apiVersion, inflightDirectory, userBounceMemory, ioThreads, aio);
    }

    /** These options with another logical block size. */
    public BlkOptions withLogicalBlockSize(int size) {
        return new BlkOptions(name, numQueues, queueSize, size, serial, readOnly, reconnect, busyPoll,
                packedRing, apiVersion, inflightDirectory, userBounceMemory, ioThreads, aio);
    }

    /** These options with another serial. */
    public BlkOptions withSerial(String value) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, value, readOnly, reconnect,
                busyPoll, packedRing, apiVersion, inflightDirectory, userBounceMemory, ioThreads, aio);
    }

    /** These options, read-only or writable. */
    public BlkOptions withReadOnly(boolean value) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, value, reconnect,
                busyPoll, packedRing, apiVersion, inflightDirectory, userBounceMemory, ioThreads, aio);
    }

    /** These options with or without reconnecting. */
    public BlkOptions withReconnect(boolean value) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, readOnly, value,
                busyPoll, packedRing, apiVersion, inflightDirectory, userBounceMemory, ioThreads, aio);
    }

    /** These options with or without offering packed rings. */
    public BlkOptions withPackedRing(boolean value) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, readOnly, reconnect,
                busyPoll, value, apiVersion, inflightDirectory, userBounceMemory, ioThreads, aio);
    }

    /** These options with or without the device's own memory as the bounce buffer. */
    public BlkOptions withUserBounceMemory(boolean value) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, readOnly, reconnect, busyPoll,
                packedRing, apiVersion, inflightDirectory, value, ioThreads, aio);
    }

    /**
     * These options with {@code count} I/O threads per queue ({@link BlkAio#THREADS}); 0 leaves
     * threads for {@link BlkAio#SYNC}, and keeps any other engine.
     */
    public BlkOptions withIoThreads(int count) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, readOnly, reconnect, busyPoll,
                packedRing, apiVersion, inflightDirectory, userBounceMemory, count, count > 0 ? BlkAio.THREADS : aio == BlkAio.THREADS ? BlkAio.SYNC : aio);
    }

    /**
     * These options with requests served by {@code engine}: {@link BlkAio#THREADS} with
     * {@code ioThreads} threads per queue, or another engine with {@code ioThreads} 0.
     */
    public BlkOptions withAio(BlkAio engine, int threads) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, readOnly, reconnect, busyPoll,
                packedRing, apiVersion, inflightDirectory, userBounceMemory, threads, engine);
    }

    /** These options with the in-flight logs in {@code directory} (null: the SDK's default place). */
    public BlkOptions withInflightDirectory(Path directory) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, readOnly, reconnect, busyPoll,
                packedRing, apiVersion, directory, userBounceMemory, ioThreads, aio);
    }

    /** These options with or without busy polling. */
    public BlkOptions withBusyPoll(boolean value) {
        return new BlkOptions(name, numQueues, queueSize, logicalBlockSize, serial, readOnly, reconnect,
                value, packedRing, apiVersion, inflightDirectory, userBounceMemory, ioThreads, aio);
    }
}
