package io.vduse.blk;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtioBlkDevice#detach()} leaves the device in the kernel for a later reconnect, and a
 * {@link VirtioBlkDevice#close()} after it (a try-with-resources block around a detach) neither
 * throws nor undoes the detach; closing twice is harmless too.
 */
class DetachAndCloseTest {

    private static int write(SimulatedDriver driver, long sector, byte[] data) throws Exception {
        return BlkRig.status(driver.submit(0, List.of(BlkRig.header(VirtioBlk.T_OUT, sector), data), 1)
                .get(30, TimeUnit.SECONDS));
    }

    private static byte[] read(SimulatedDriver driver, long sector, int length) throws Exception {
        return driver.submit(0, List.of(BlkRig.header(VirtioBlk.T_IN, sector)), length, 1).get(30, TimeUnit.SECONDS)
                .writable().get(0);
    }

    @Test
    void closeAfterDetachKeepsTheDeviceForTheNextProcess() throws Exception {
        SimulatedKernel kernel = new SimulatedKernel();
        BlkOptions options = BlkOptions.defaults("t-detach").withQueues(1, 64);
        try (MemoryBackend disk = new MemoryBackend(1L << 20)) {
            byte[] data = new byte[512];
            data[0] = 42;
            SimulatedDriver driver;
            try (VirtioBlkDevice first = VirtioBlkDevice.start(options, disk, kernel)) {
                driver = SimulatedDriver.attach(kernel, "t-detach", SimulatedDriver.Options.defaults().withQueueSize(64));
                assertThat(write(driver, 7, data)).isEqualTo(VirtioBlk.S_OK);
                first.detach();
            } // close() after detach(): must not throw, must not destroy the device
            assertThat(kernel.deviceExists("t-detach")).isTrue();

            VirtioBlkDevice second = VirtioBlkDevice.start(options.withReconnect(true), disk, kernel);
            assertThat(read(driver, 7, 512)).isEqualTo(data);
            driver.close(); // vdpa dev del: now the device can be destroyed
            second.close();
            assertThat(kernel.deviceExists("t-detach")).isFalse();
            second.close(); // does nothing more
            second.detach(); // nor does a detach after it
        }
    }
}
