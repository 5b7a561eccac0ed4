package io.vduse.virtqueue;

import io.vduse.iova.Access;
import io.vduse.iova.IovaMemory;
import io.vduse.virtqueue.VirtqueueException.Reason;

/**
 * One descriptor chain popped from a {@link DeviceQueue}: its buffers (device-readable ones
 * first, then device-writable ones), its id for the used element, and a {@link ChainReader} and
 * {@link ChainWriter} over them.
 *
 * <p>A flyweight: made once by {@link DeviceQueue#newChain()} with arrays sized by the queue
 * size, then re-pointed by every {@link DeviceQueue#pop}, so popping allocates nothing. A device
 * that keeps several requests in flight keeps one chain per request. Not thread-safe; a chain may
 * be handed to another thread between its pop and its push.
 */
public final class DescriptorChain {

    private final DeviceQueueBase queue;
    private final long[] addresses;
    private final int[] lengths;
    private final ChainReader reader;
    private final ChainWriter writer;

    private int count;
    private int readableCount;
    private long readableBytes;
    private long writableBytes;
    private int id;
    private int ringSlots;
    private int ringStart;

    DescriptorChain(DeviceQueueBase queue, IovaMemory memory, int capacity) {
        this.queue = queue;
        this.addresses = new long[capacity];
        this.lengths = new int[capacity];
        this.reader = new ChainReader(new BufferCursor(this, memory, Access.READ));
        this.writer = new ChainWriter(new BufferCursor(this, memory, Access.WRITE));
    }

    /** The id to give back in the used element: the head index (split) or the buffer id (packed). */
    public int id() {
        return id;
    }

    /** How many buffers the chain has, readable and writable, indirect ones included. */
    public int bufferCount() {
        return count;
    }

    /** How many of the buffers are device-readable; they come first. */
    public int readableCount() {
        return readableCount;
    }

    /** The sum of the lengths of the device-readable buffers. */
    public long readableLength() {
        return readableBytes;
    }

    /** The sum of the lengths of the device-writable buffers: the most a used length may say. */
    public long writableLength() {
        return writableBytes;
    }

    /** The IOVA of buffer {@code index}. */
    public long address(int index) {
        checkIndex(index);
        return addresses[index];
    }

    /** The length of buffer {@code index}, 0 to 2^32 - 1. */
    public long length(int index) {
        checkIndex(index);
        return Integer.toUnsignedLong(lengths[index]);
    }

    /** Whether buffer {@code index} is device-writable. */
    public boolean isWritable(int index) {
        checkIndex(index);
        return index >= readableCount;
    }

    /** The reader over the readable buffers, at their start after each pop. */
    public ChainReader reader() {
        return reader;
    }

    /** The writer over the writable buffers, at their start after each pop. */
    public ChainWriter writer() {
        return writer;
    }

    private void checkIndex(int index) {
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException("buffer " + index + " of a chain of " + count);
        }
    }

    // ---- filled by the queue while it walks the chain ----

    void begin() {
        count = 0;
        readableCount = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    /**
     * Adds a buffer, enforcing the rules a chain must keep whatever its layout: bounded length,
     * readable before writable, no address or length overflow.
     */
    void add(long address, int length, boolean writable) {
        if (count == addresses.length) {
            throw new VirtqueueException(Reason.CHAIN_TOO_LONG,
                    "more than %d buffers in a queue of size %d".formatted(count, addresses.length));
        }
        long len = Integer.toUnsignedLong(length);
        if (len != 0 && Long.compareUnsigned(address + len - 1, address) < 0) {
            throw new VirtqueueException(Reason.ADDRESS_OVERFLOW,
                    "buffer %d at 0x%x of length %d wraps past 2^64".formatted(count, address, len));
        }
        if (writable) {
            writableBytes += len;
        } else {
            if (readableCount != count) {
                throw new VirtqueueException(Reason.READABLE_AFTER_WRITABLE,
                        "buffer %d at 0x%x is readable after %d writable buffer(s)"
                                .formatted(count, address, count - readableCount));
            }
            readableCount++;
            readableBytes += len;
        }
        // Both sums are bounded by 2^32 * queue size, far from overflowing a long.
        if (readableBytes + writableBytes > 0xffff_ffffL) {
            throw new VirtqueueException(Reason.LENGTH_OVERFLOW,
                    "buffers add up to %d bytes after buffer %d (at most 2^32 - 1)"
                            .formatted(readableBytes + writableBytes, count));
        }
        addresses[count] = address;
        lengths[count] = length;
        count++;
    }

    void finish(int chainId, int slots, int start) {
        this.id = chainId;
        this.ringSlots = slots;
        this.ringStart = start;
        reader.cursor().reset(0, readableCount, readableBytes);
        writer.cursor().reset(readableCount, count, writableBytes);
    }

    /**
     * How many slots of the ring the chain took: 1 on a split ring (its head), on a packed ring
     * one per descriptor in the ring (an indirect table counts as one); the used position moves
     * on by as many when the chain is pushed.
     */
    public int ringSlots() {
        return ringSlots;
    }

    /** The ring slot of the chain's first descriptor (split: its head). */
    int ringStart() {
        return ringStart;
    }

    long addressAt(int index) {
        return addresses[index];
    }

    long lengthAt(int index) {
        return Integer.toUnsignedLong(lengths[index]);
    }

    DeviceQueueBase queue() {
        return queue;
    }
}
