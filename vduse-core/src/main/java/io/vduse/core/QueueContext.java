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
}
