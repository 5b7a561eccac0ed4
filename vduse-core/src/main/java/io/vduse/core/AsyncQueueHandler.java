package io.vduse.core;

/**
 * What a device does with the requests of one virtqueue when it finishes them later, on any
 * thread and in any order: a disk with many requests in flight, a network device whose receive
 * buffers wait for packets.
 *
 * <pre>{@code
 * AsyncQueueHandler handler = request -> backend.submit(request.chain(), written -> request.complete(written));
 * }</pre>
 *
 * <p>{@link #start} is called on the queue's thread for each chain the driver made available, and
 * the queue goes on popping while requests are outstanding, up to the ring size (or until the
 * handler calls {@link QueueContext#pausePopping()}). Each request must be completed exactly
 * once with {@link Request#complete()}; the queue's thread then returns its chain to the driver,
 * in batches. Memory of the chain stays mapped until then, even across an IOTLB update.
 */
@FunctionalInterface
public interface AsyncQueueHandler extends QueueLifecycle {

    /**
     * Starts handling {@code request}: complete it now or later, on any thread.
     *
     * @throws Exception if it cannot be started: the SDK then calls {@link #failed} and
     *     completes the request itself, unless {@code failed} completed it
     */
    void start(Request request) throws Exception;

    /**
     * Called when {@link #start} threw, on the queue's thread: the place to write the device's
     * error status into the request's chain. The default writes nothing and the request goes back
     * with what was written before the failure; a device whose driver reads a status byte
     * (virtio-blk) must override it.
     */
    default void failed(Request request, Exception cause) {}

    /**
     * Called on the queue's thread once per pass of its loop: after the pass started what the
     * driver made available, and before the thread goes to sleep. The place for a handler that
     * gathers work to hand it on in one go (one system call for every request the pass started)
     * and to take the completions of a facility that finishes work on its own, such as an
     * io_uring whose eventfd is {@link QueueContext#wakeupEventFd()}, completing their requests
     * right here. The default does nothing.
     *
     * <p>It must not throw: an exception stops the queue, as a bug in the SDK would, until the
     * driver resets the device. A handler answers what it cannot do by completing the request.
     *
     * @return whether it completed a request, so that the thread looks at the ring again before
     *     it sleeps (a completion frees room for chains the driver may have waiting)
     */
    default boolean endOfPass() {
        return false;
    }

    /** Creates the handler of each queue. */
    @FunctionalInterface
    interface Factory {
        /** The handler of queue {@code index}. */
        AsyncQueueHandler create(int index);
    }
}
