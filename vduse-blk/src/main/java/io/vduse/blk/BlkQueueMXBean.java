package io.vduse.blk;

/**
 * What one queue of a virtio-blk device served, by request type ({@link QueueCounters}), as JMX
 * sees it: registered as {@code io.vduse:type=BlkQueue,device=NAME,index=I} beside the SDK's
 * {@code io.vduse:type=Queue,...} bean of the same queue, for as long as the device is served.
 * The same figures as the tool's per-queue line on SIGUSR1.
 */
public interface BlkQueueMXBean {

    /** IN requests answered OK. */
    long getReads();

    /** OUT requests answered OK. */
    long getWrites();

    /** FLUSH requests answered OK. */
    long getFlushes();

    /** DISCARD requests answered OK. */
    long getDiscards();

    /** WRITE_ZEROES requests answered OK. */
    long getWriteZeroes();

    /** GET_ID requests answered OK. */
    long getGetIds();

    /** Requests answered IOERR: bad sectors or sizes, a read-only device, a backend failure. */
    long getIoErrors();

    /** Requests answered UNSUPP: unknown types, bad flags or layouts. */
    long getUnsupported();

    /** Chains with no room for a status byte, returned without an answer. */
    long getRefused();

    /** Bytes read from the backend for IN requests. */
    long getBytesRead();

    /** Bytes written to the backend for OUT requests. */
    long getBytesWritten();

    /** Requests answered, whatever the status. */
    long getAnswered();
}
