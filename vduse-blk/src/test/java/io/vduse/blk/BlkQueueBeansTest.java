package io.vduse.blk;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.blk.QueueCounters.Counter;
import io.vduse.core.management.ObjectNames;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/**
 * The block device's per-queue counters as {@code io.vduse:type=BlkQueue} MXBeans, read through
 * the platform MBean server: the same figures as {@link QueueCounters}, live, gone after close.
 */
class BlkQueueBeansTest {

    private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();

    private static void awaitRegistered(ObjectName name) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!SERVER.isRegistered(name) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(SERVER.isRegistered(name)).as("%s registered", name).isTrue();
    }

    @Test
    void eachQueuesCountersAreABeanUntilTheDeviceCloses() throws Exception {
        ObjectName queue0 = new ObjectName("io.vduse:type=BlkQueue,device=t-beans,index=0");
        ObjectName queue1 = ObjectNames.queue("BlkQueue", "t-beans", 1);
        BlkRig rig = new BlkRig(BlkOptions.defaults("t-beans").withQueues(2, 64), new MemoryBackend(1L << 20));
        try {
            awaitRegistered(queue1);
            awaitRegistered(queue0);
            assertThat(rig.write(0, 0, new byte[4096])).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.write(0, 8, new byte[1024])).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(1, 0, 512)).hasSize(512);
            assertThat(rig.simple(VirtioBlk.T_FLUSH, 0)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.readStatus(1, 1L << 40, 512)).isEqualTo(VirtioBlk.S_IOERR);

            assertThat(SERVER.getAttribute(queue0, "Writes")).isEqualTo(2L);
            assertThat(SERVER.getAttribute(queue0, "BytesWritten")).isEqualTo(5120L);
            assertThat(SERVER.getAttribute(queue0, "Flushes")).isEqualTo(1L);
            assertThat(SERVER.getAttribute(queue1, "Reads")).isEqualTo(1L);
            assertThat(SERVER.getAttribute(queue1, "BytesRead")).isEqualTo(512L);
            assertThat(SERVER.getAttribute(queue1, "IoErrors")).isEqualTo(1L);
            assertThat(SERVER.getAttribute(queue1, "Answered")).isEqualTo(2L);
            assertThat(SERVER.getAttribute(queue1, "Reads")).isEqualTo(rig.device.counters(1).get(Counter.READS));
            // The SDK's bean of the same queue counts the same requests.
            assertThat(SERVER.getAttribute(ObjectNames.queue("t-beans", 0), "Requests")).isEqualTo(3L);
        } finally {
            rig.close();
        }
        assertThat(SERVER.isRegistered(queue0)).isFalse();
        assertThat(SERVER.isRegistered(queue1)).isFalse();
    }
}
