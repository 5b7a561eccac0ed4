package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.management.ObjectNames;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The device's and its queues' MXBeans, read through the platform MBean server as JConsole or an
 * exporter would: registered while the device is served, live, unregistered after close; two
 * devices of one process apart, and a name that a JMX name must quote.
 */
class ManagementBeansTest {

    private static final int SECTORS = 1024;
    private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() {
        toClose.close();
        arena.close();
    }

    private VduseDevice start(String name, int queues) throws VduseException {
        return toClose.add(VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                .features(VirtioFeatures.bit(VirtioBlk.F_MQ)).config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes())
                .queues(queues, 64).handlers(index -> new RamBlockHandler(disk, name)).inflightLog(false).start());
    }

    /** Waits for the device's beans: the MBean server is made on a thread of the device's. */
    private static void awaitRegistered(ObjectName name) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!SERVER.isRegistered(name) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(SERVER.isRegistered(name)).as("%s registered", name).isTrue();
    }

    private static Object attribute(ObjectName name, String attribute) throws Exception {
        return SERVER.getAttribute(name, attribute);
    }

    @Test
    void theBeansFollowTheDeviceAndGoWithIt() throws Exception {
        VduseDevice device = start("mx-life", 2);
        ObjectName deviceName = new ObjectName("io.vduse:type=Device,name=mx-life");
        ObjectName queue0 = new ObjectName("io.vduse:type=Queue,device=mx-life,index=0");
        ObjectName queue1 = new ObjectName("io.vduse:type=Queue,device=mx-life,index=1");
        awaitRegistered(queue1);
        assertThat(SERVER.isRegistered(deviceName)).isTrue();
        assertThat(attribute(deviceName, "QueueCount")).isEqualTo(2);
        assertThat(attribute(deviceName, "Status")).isEqualTo(0);
        assertThat(attribute(deviceName, "MessagesHandled")).isEqualTo(0L);
        assertThat(attribute(queue0, "Running")).isEqualTo(false);

        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, "mx-life",
                SimulatedDriver.Options.defaults().withQueueSize(32)));
        BlockClient blk = new BlockClient(driver);
        int running = VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK;
        assertThat(attribute(deviceName, "Status")).isEqualTo(running);
        assertThat(attribute(deviceName, "StatusText")).isEqualTo("ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK");
        assertThat(attribute(deviceName, "NegotiatedFeatures")).isEqualTo(driver.negotiatedFeatures());
        assertThat(attribute(deviceName, "OfferedFeatures")).isEqualTo(device.offeredFeatures());
        assertThat(attribute(queue0, "Running")).isEqualTo(true);

        for (int i = 0; i < 7; i++) {
            assertThat(BlockClient.status(blk.read(0, i * 8L, 4096).get(10, TimeUnit.SECONDS))).isEqualTo(VirtioBlk.S_OK);
        }
        for (int i = 0; i < 3; i++) {
            assertThat(BlockClient.status(blk.write(1, i * 8L, new byte[512]).get(10, TimeUnit.SECONDS)))
                    .isEqualTo(VirtioBlk.S_OK);
        }
        assertThat(attribute(queue0, "RingSize")).isEqualTo(32);
        assertThat(attribute(queue0, "Requests")).isEqualTo(7L);
        assertThat(attribute(queue1, "Requests")).isEqualTo(3L);
        // A read answers 4096 bytes and the status byte; a write only the status byte.
        assertThat(attribute(queue0, "UsedBytes")).isEqualTo(7L * 4097);
        assertThat(attribute(queue1, "UsedBytes")).isEqualTo(3L);
        assertThat(attribute(queue0, "InFlight")).isEqualTo(0);
        assertThat((Long) attribute(queue0, "Kicks")).isBetween(1L, 7L);
        assertThat(attribute(queue0, "Interrupts")).isEqualTo(device.interrupts(0));
        assertThat((Long) attribute(queue0, "Interrupts")).isPositive();
        assertThat(attribute(queue0, "BrokenReason")).isNull();

        long setStatus = device.controlMessages(io.vduse.api.Vduse.REQ_SET_STATUS);
        assertThat(setStatus).isPositive();
        TabularData byType = (TabularData) attribute(deviceName, "MessagesByType");
        CompositeData row = byType.get(new Object[] {"SET_STATUS"});
        assertThat(row.get("value")).isEqualTo(setStatus);
        assertThat(byType.size()).isEqualTo(7);

        // A ring the driver breaks: the queue says why, the device that it needs a reset.
        driver.corruptAvailIndex(0);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (attribute(queue0, "BrokenReason") == null && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat((String) attribute(queue0, "BrokenReason")).startsWith("AVAIL_INDEX_TOO_FAR: ");
        assertThat((Integer) attribute(deviceName, "Status") & VirtioStatus.DEVICE_NEEDS_RESET).isNotZero();
        assertThat(attribute(queue1, "BrokenReason")).isNull();

        driver.close();
        device.close();
        assertThat(SERVER.isRegistered(deviceName)).isFalse();
        assertThat(SERVER.isRegistered(queue0)).isFalse();
        assertThat(SERVER.isRegistered(queue1)).isFalse();
    }

    @Test
    void twoDevicesHaveTheirOwnBeansAndANameThatNeedsQuotingWorks() throws Exception {
        String odd = "mx,odd=1:*";
        VduseDevice plain = start("mx-plain", 1);
        VduseDevice quoted = start(odd, 1);
        ObjectName oddName = ObjectNames.device(odd);
        awaitRegistered(ObjectNames.queue(odd, 0));
        awaitRegistered(ObjectNames.queue("mx-plain", 0));
        assertThat(oddName.getKeyProperty("name")).isEqualTo(ObjectName.quote(odd));
        assertThat(ObjectName.unquote(oddName.getKeyProperty("name"))).isEqualTo(odd);
        assertThat(ObjectNames.device("mx-plain").getKeyProperty("name")).isEqualTo("mx-plain");
        assertThat(attribute(oddName, "Name")).isEqualTo(odd);
        assertThat(attribute(ObjectNames.queue(odd, 0), "Device")).isEqualTo(odd);
        assertThat(attribute(ObjectNames.device("mx-plain"), "Name")).isEqualTo("mx-plain");
        assertThat(SERVER.queryNames(new ObjectName("io.vduse:type=Queue,*"), null))
                .contains(ObjectNames.queue("mx-plain", 0), ObjectNames.queue(odd, 0));

        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, "mx-plain"));
        BlockClient blk = new BlockClient(driver);
        assertThat(BlockClient.status(blk.write(0, 0, new byte[512]).get(10, TimeUnit.SECONDS))).isEqualTo(VirtioBlk.S_OK);
        assertThat(attribute(ObjectNames.queue("mx-plain", 0), "Requests")).isEqualTo(1L);
        assertThat(attribute(ObjectNames.queue(odd, 0), "Requests")).isEqualTo(0L);

        driver.close();
        plain.detach(); // left in the kernel: the beans go all the same
        assertThat(SERVER.isRegistered(ObjectNames.device("mx-plain"))).isFalse();
        assertThat(SERVER.isRegistered(oddName)).isTrue();
        quoted.close();
        assertThat(SERVER.isRegistered(oddName)).isFalse();
        VduseDevice.destroy(kernel, "mx-plain");
    }

    @Test
    void aDeviceRegistersNoBeansWhenToldNotToAndAnAuthorsBeanLivesWithTheDevice() throws Exception {
        VduseDevice quiet = toClose.add(VduseDevice.builder("mx-quiet").kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).handlers(index -> new RamBlockHandler(disk, "q"))
                .inflightLog(false).managementBeans(false).start());
        VduseDevice loud = start("mx-loud", 1);
        ObjectName own = ObjectNames.queue("Extra", "mx-loud", 0);
        loud.addManagementBean(own, ExtraMXBean.class, () -> 42L);
        awaitRegistered(own);
        assertThat(attribute(own, "Answer")).isEqualTo(42L);
        assertThat(SERVER.isRegistered(ObjectNames.device("mx-loud"))).isTrue();
        assertThat(SERVER.isRegistered(ObjectNames.device("mx-quiet"))).isFalse();
        quiet.close();
        loud.close();
        assertThat(SERVER.isRegistered(own)).isFalse();
    }

    /** A device author's own bean. */
    public interface ExtraMXBean {
        /** A value. */
        long getAnswer();
    }
}
