package io.vduse.core;

import io.vduse.virtqueue.DescriptorChain;

/**
 * What a device does with the requests of one virtqueue. The SDK calls it on the queue's worker
 * thread, one chain at a time, and returns the chain to the driver afterwards with the bytes
 * written into its writable buffers.
 *
 * <p>A handler reads the request from {@code chain.reader()} and writes its answer into
 * {@code chain.writer()}; both are flyweights reused for the next chain, so keep nothing of them.
 * To stay off the allocator on the hot path, a handler keeps its own scratch buffers.
 */
@FunctionalInterface
public interface QueueHandler {

    /**
     * Handles one request.
     *
     * @throws Exception anything the handler cannot handle: the SDK then calls
     *     {@link #failed}, returns the chain and goes on with the next one
     */
    void handle(DescriptorChain chain) throws Exception;

    /**
     * Called when {@link #handle} threw, before the chain goes back to the driver: the place to
     * write the device's error status into the chain (virtio-blk writes {@code VIRTIO_BLK_S_IOERR}).
     * The default writes nothing.
     */
    default void failed(DescriptorChain chain, Exception cause) {}

    /** Creates the handler of each queue. */
    @FunctionalInterface
    interface Factory {
        /** The handler of queue {@code index}. */
        QueueHandler create(int index);
    }
}
