package io.vduse.core;

import io.vduse.virtqueue.DescriptorChain;

/**
 * What a device does with the requests of one virtqueue, when it answers each before the next:
 * the SDK calls it on the queue's thread, one chain at a time, and returns the chain to the
 * driver afterwards with the bytes written into its writable buffers. A device that keeps
 * requests in flight (and completes them later, in any order) implements
 * {@link AsyncQueueHandler} instead.
 *
 * <p>A handler reads the request from {@code chain.reader()} and writes its answer into
 * {@code chain.writer()}; both are flyweights reused for the next chain, so keep nothing of them.
 * To stay off the allocator on the hot path, a handler keeps its own scratch buffers.
 */
@FunctionalInterface
public interface QueueHandler extends QueueLifecycle {

    /**
     * Handles one request.
     *
     * @throws Exception anything the handler cannot handle: the SDK then calls
     *     {@link #failed}, returns the chain and goes on with the next one. An {@link Error}
     *     stops the queue instead (the device then reports {@code NEEDS_RESET}).
     */
    void handle(DescriptorChain chain) throws Exception;

    /**
     * Called when {@link #handle} threw, before the chain goes back to the driver: the place to
     * write the device's error status into the chain (virtio-blk writes {@code VIRTIO_BLK_S_IOERR}).
     * If it writes nothing (the default), the SDK answers as the device type allows: for a block
     * device {@code VIRTIO_BLK_S_IOERR} in the chain's last writable byte, where the driver reads
     * the status; for any other type a used length of 0.
     */
    default void failed(DescriptorChain chain, Exception cause) {}

    /** Creates the handler of each queue. */
    @FunctionalInterface
    interface Factory {
        /** The handler of queue {@code index}. */
        QueueHandler create(int index);
    }
}
