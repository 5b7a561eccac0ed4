package io.vduse.core;

/**
 * One running virtqueue as its handler sees it: which queue, what the driver negotiated, and a
 * way to stop taking requests while the device is full. Handed to
 * {@link QueueLifecycle#queueStarted}; valid until {@link QueueLifecycle#queueStopped}.
 */
public interface QueueContext {

    /** The queue's index. */
    int index();

    /** The ring size the driver chose. */
    int size();

    /** The features the driver accepted ({@code VIRTIO_F_*} and device bits). */
    long negotiatedFeatures();

    /** Whether the ring is packed. */
    boolean isPacked();

    /** Requests popped and not yet completed. */
    int inFlight();

    /**
     * Stops taking new requests from the ring until {@link #resumePopping()}: what a device does
     * when its backend cannot take more (a full submission ring, a busy link). Requests in flight
     * go on completing. Any thread.
     */
    void pausePopping();

    /** Takes requests from the ring again after {@link #pausePopping()}. Any thread. */
    void resumePopping();

    /**
     * The file descriptor of an eventfd that wakes the queue's thread, which then calls
     * {@link AsyncQueueHandler#endOfPass()}. Give it to a kernel facility that signals an eventfd
     * when it completes work (io_uring's {@code IORING_REGISTER_EVENTFD}), so that completions
     * are taken on the queue's thread with no thread of the handler's own. Valid until
     * {@link QueueLifecycle#queueStopped} returns; the SDK closes it, not the handler.
     */
    int wakeupEventFd();

    /**
     * Makes the queue's thread also wake when {@code fd} is readable ({@code POLLIN}), as it
     * wakes for a kick, and then call {@link AsyncQueueHandler#endOfPass()}: a handler whose work
     * arrives on a file descriptor (a TAP, a socket) reads it there, on the queue's thread, with
     * no thread of its own and no hand-over between threads. One descriptor at a time: a new one
     * replaces the last, and a negative one stops the watching. Stop it while there is nothing to
     * read into (a network device with no receive buffers): the descriptor stays readable, and
     * the thread would wake for nothing. The handler keeps the descriptor open while it is
     * watched; the watching ends with the queue's run.
     *
     * @throws IllegalStateException if called on another thread than the queue's (the handler's
     *     {@code queueStarted}, {@code start} and {@code endOfPass} run on it)
     */
    void watchReadable(int fd);
}
