package io.vduse.core;

/**
 * What a queue's handler hears of the device's life: when its queue starts serving (after the
 * driver's {@code DRIVER_OK}, or when the driver enables it again), when it is asked to stop, and
 * when it stops. All are called on the queue's own thread, {@code queueStarted} before the first
 * request of a run, {@code queueStopping} once the stop is asked (before the queue waits for its
 * requests to settle) and {@code queueStopped} after its last request was settled.
 */
public interface QueueLifecycle {

    /**
     * The queue starts serving: the driver set {@code DRIVER_OK} (or enabled the queue), and
     * {@code queue} says what it negotiated. No request of this run comes before this returns.
     */
    default void queueStarted(QueueContext queue) {}

    /**
     * The queue was asked to stop for {@code reason} and takes no more requests; those in flight
     * get the settle timeout to complete. The place for a handler whose requests wait for an
     * event that may never come (a network device's receive buffers wait for frames) to complete
     * them now, so that a reset or a close does not wait the settle timeout for them. If the stop
     * is taken back (a suspend that did not settle in time), the queue serves on without another
     * {@code queueStarted}, and a later stop calls this again.
     */
    default void queueStopping(QueueContext queue, QueueStop reason) {}

    /**
     * The queue stopped serving for {@code reason}. Every request of the run was completed, or,
     * if it was still in flight when the settle timeout ran out, cancelled: its completion is
     * then ignored and its memory may be gone.
     */
    default void queueStopped(QueueContext queue, QueueStop reason) {}
}
