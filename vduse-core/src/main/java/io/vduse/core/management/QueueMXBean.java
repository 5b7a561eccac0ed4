package io.vduse.core.management;

/**
 * One virtqueue of a device served by this process: registered as
 * {@code io.vduse:type=Queue,device=NAME,index=I} ({@link ObjectNames#queue}) with its device.
 * Counters count from the device's start, across the driver's resets.
 */
public interface QueueMXBean {

    /** The name of the device the queue belongs to. */
    String getDevice();

    /** The queue's index. */
    int getIndex();

    /** Whether the queue is being served now. */
    boolean isRunning();

    /** The size of the ring the driver set up; 0 while the queue is not served. */
    int getRingSize();

    /** The address space the queue translates through (0 below VDUSE API 1). */
    int getAddressSpace();

    /** Requests completed (returned to the driver). */
    long getRequests();

    /** Bytes the device wrote into the driver's buffers: the sum of the used lengths it returned. */
    long getUsedBytes();

    /** Requests taken from the ring and not yet returned to it. */
    int getInFlight();

    /** Kicks the driver sent (notifications on the queue's kick eventfd that the queue took). */
    long getKicks();

    /** Interrupts the device injected ({@code VDUSE_VQ_INJECT_IRQ}). */
    long getInterrupts();

    /** Times the queue's thread waited in {@code poll(2)} for work (a kick, a completion, a command). */
    long getWaits();

    /** Requests whose handler threw. */
    long getHandlerFailures();

    /** Requests cancelled because they were still in flight when the queue had to stop. */
    long getCancelled();

    /** Requests served again after a take-over, from the in-flight log of the process that died. */
    long getResubmitted();

    /**
     * Why the queue stopped until a reset (the ring error's reason and message, say
     * {@code AVAIL_INDEX_TOO_FAR: ...}), until it starts again; null if it did not break.
     */
    String getBrokenReason();
}
