package io.vduse.bench;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Bytes allocated by the device's own threads (queue workers and message loop, named
 * {@code vduse-NAME-...}; benchmark devices are named {@code bench-...}), as a JMH counter: {@code -prof gc} counts every thread of the JVM, the
 * simulated driver's included, and this separates the device's share. Reported as a rate
 * (bytes/s, the "deviceAlloc" secondary result); divided by the benchmark's ops/s it is the
 * device's B/op, which is what the results table shows.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class DeviceThreadAllocation {

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** The device threads of every benchmark device: devices are named bench-*. */
    static final String THREAD_PREFIX = "vduse-bench-";

    /** Bytes the device threads allocated during the iteration; JMH reports it per second. */
    public long deviceAlloc;

    private long[] ids = new long[0];
    private long last;

    /**
     * Finds the device threads as they are now (the benchmark's trial set-up started the device
     * before) and starts counting.
     */
    @Setup(Level.Iteration)
    public void startIteration() {
        // The threads of the root group, not Thread.getAllStackTraces(): a stack dump of every
        // thread is some 14 KB per iteration, which -prof gc divides among the ops (~1 B/op at
        // 14 K ops/s) as if the requests had allocated it.
        ThreadGroup root = Thread.currentThread().getThreadGroup();
        while (root.getParent() != null) {
            root = root.getParent();
        }
        Thread[] threads = new Thread[root.activeCount() + 16];
        int count = root.enumerate(threads, true);
        List<Long> found = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            if (threads[i].getName().startsWith(THREAD_PREFIX)) {
                found.add(threads[i].threadId());
            }
        }
        if (found.isEmpty()) {
            throw new IllegalStateException("no device thread named " + THREAD_PREFIX + "*");
        }
        ids = found.stream().mapToLong(Long::longValue).toArray();
        deviceAlloc = 0;
        last = total();
    }

    /** Adds what the device threads allocated since the last call; once per op. */
    void sample() {
        long now = total();
        deviceAlloc += now - last;
        last = now;
    }

    private long total() {
        long sum = 0;
        for (long id : ids) {
            long bytes = THREADS.getThreadAllocatedBytes(id);
            if (bytes > 0) {
                sum += bytes;
            }
        }
        return sum;
    }
}
