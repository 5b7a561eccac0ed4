package io.vduse.core;

/**
 * What a queue's handler hears of the device's life: when its queue starts serving (after the
 * driver's {@code DRIVER_OK}, or when the driver enables it again) and when it stops. Both are
 * called on the queue's own thread, {@code queueStarted} before the first request of a run and
 * {@code queueStopped} after its last request was settled.
 */
public interface QueueLifecycle {

    /**
     * The queue starts serving: the driver set {@code DRIVER_OK} (or enabled the queue), and
     * {@code queue} says what it negotiated. No request of this run comes before this returns.
     */
    default void queueStarted(QueueContext queue) {}

    /**
     * The queue stopped serving for {@code reason}. Every request of the run was completed, or,
     * if it was still in flight when the settle timeout ran out, cancelled: its completion is
     * then ignored and its memory may be gone.
     */
    default void queueStopped(QueueContext queue, QueueStop reason) {}
}
