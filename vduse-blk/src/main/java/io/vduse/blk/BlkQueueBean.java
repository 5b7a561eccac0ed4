package io.vduse.blk;

import io.vduse.blk.QueueCounters.Counter;

/** A queue's {@link QueueCounters} as its {@link BlkQueueMXBean}, read live. */
record BlkQueueBean(QueueCounters counters) implements BlkQueueMXBean {

    @Override
    public long getReads() {
        return counters.get(Counter.READS);
    }

    @Override
    public long getWrites() {
        return counters.get(Counter.WRITES);
    }

    @Override
    public long getFlushes() {
        return counters.get(Counter.FLUSHES);
    }

    @Override
    public long getDiscards() {
        return counters.get(Counter.DISCARDS);
    }

    @Override
    public long getWriteZeroes() {
        return counters.get(Counter.WRITE_ZEROES);
    }

    @Override
    public long getGetIds() {
        return counters.get(Counter.GET_IDS);
    }

    @Override
    public long getIoErrors() {
        return counters.get(Counter.IO_ERRORS);
    }

    @Override
    public long getUnsupported() {
        return counters.get(Counter.UNSUPPORTED);
    }

    @Override
    public long getRefused() {
        return counters.get(Counter.REFUSED);
    }

    @Override
    public long getBytesRead() {
        return counters.get(Counter.BYTES_READ);
    }

    @Override
    public long getBytesWritten() {
        return counters.get(Counter.BYTES_WRITTEN);
    }

    @Override
    public long getAnswered() {
        return counters.answered();
    }
}
