package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hot path allocates nothing per chain: pop, read a header and a payload, write a payload
 * and a status, push, publish and the notification calls, counted with the JVM's per-thread
 * allocation counter. The bound is a total below one byte per chain, so a one-off allocation
 * (class loading, a deoptimisation) cannot fail the test but any per-chain object would.
 */
class AllocationTest {

    private static final int WARM_UP = 30_000;
    private static final int MEASURED = 100_000;

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void hotPathAllocatesNothingPerChain(boolean packed) throws Exception {
        Object threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Method allocated = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        try (Rig rig = new Rig(16, Rig.features(packed, true, true))) {
            long[] iovas = {Rig.DATA, Rig.DATA + 4096, Rig.DATA + 8192};
            int[] lengths = {16, 512, 1};
            DescriptorChain[] chains = new DescriptorChain[4];
            for (int i = 0; i < chains.length; i++) {
                chains[i] = rig.device.newChain();
            }
            MemorySegment backend = MemorySegment.ofArray(new byte[512]);
            run(rig, iovas, lengths, chains, backend, WARM_UP);
            long before = (long) allocated.invoke(threads);
            long checksum = run(rig, iovas, lengths, chains, backend, MEASURED);
            long after = (long) allocated.invoke(threads);
            assertThat(checksum).isNotZero();
            assertThat(after - before).as("bytes allocated over %d chains", MEASURED).isLessThan(MEASURED);
        }
    }

    /** Batches of four chains there and back, the way a queue worker and a driver would do them. */
    private static long run(Rig rig, long[] iovas, int[] lengths, DescriptorChain[] chains, MemorySegment backend, int n) {
        long checksum = 0;
        for (int done = 0; done < n; done += chains.length) {
            for (int i = 0; i < chains.length; i++) {
                rig.driver.add(iovas, lengths, 1, 2);
            }
            rig.driver.kickPrepare();
            rig.device.disableNotifications();
            int popped = 0;
            while (popped < chains.length && rig.device.pop(chains[popped])) {
                DescriptorChain c = chains[popped++];
                checksum += c.reader().readLongLe() + c.reader().readLongLe();
                c.writer().write(backend, 0, 512);
                c.writer().writeByte((byte) 0);
            }
            for (int i = 0; i < popped; i++) {
                rig.device.push(chains[i], (int) chains[i].writer().bytesWritten());
            }
            if (rig.device.publish()) {
                checksum++;
            }
            rig.device.enableNotifications();
            rig.driver.disableInterrupts();
            while (rig.driver.pollUsed() >= 0) {
                checksum += rig.driver.usedLength();
            }
            rig.driver.enableInterrupts();
        }
        return checksum;
    }
}
