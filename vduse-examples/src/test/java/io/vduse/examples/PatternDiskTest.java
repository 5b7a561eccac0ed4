package io.vduse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.VduseDevice;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The template device against the simulated kernel, as Linux 6.12 and as 7.3 would create it,
 * driven as {@code virtio_vdpa} and {@code virtio_blk} would: it offers a read-only disk of the
 * size asked, every sector read holds its own number, writes and reads past the end fail with
 * IOERR, unknown requests are UNSUPP, and GET_ID gives the serial.
 */
class PatternDiskTest {

    private static final long SECTORS = 2048; // 1 MiB

    @ParameterizedTest
    @EnumSource(SimulatedKernel.Release.class)
    void servesItsPatternAndRefusesWhatAReadOnlyDiskMust(SimulatedKernel.Release release) throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(release);
        try (VduseDevice device = PatternDisk.start("pattern0", SECTORS, kernel);
                SimulatedDriver driver = SimulatedDriver.attach(kernel, "pattern0")) {
            assertThat(VirtioFeatures.has(driver.negotiatedFeatures(), VirtioBlk.F_RO)).isTrue();
            assertThat(ByteBuffer.wrap(driver.config()).order(ByteOrder.LITTLE_ENDIAN).getLong(0)).isEqualTo(SECTORS);

            // Reads anywhere, of one sector or many, the last sector included.
            for (long[] read : new long[][] {{0, 1}, {7, 3}, {1000, 64}, {SECTORS - 1, 1}}) {
                Completion done = request(driver, VirtioBlk.T_IN, read[0], (int) read[1] * VirtioBlk.SECTOR_SIZE);
                assertThat(status(done)).isEqualTo(VirtioBlk.S_OK);
                byte[] data = done.writable().get(0);
                for (int i = 0; i < data.length; i++) {
                    long offset = read[0] * VirtioBlk.SECTOR_SIZE + i;
                    if (data[i] != PatternDisk.expectedByte(offset)) {
                        throw new AssertionError("byte at offset " + offset + " is " + data[i]);
                    }
                }
                // The pattern is the sector number, as a reader would decode it.
                assertThat(ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(VirtioBlk.SECTOR_SIZE - 8))
                        .isEqualTo(read[0]);
            }

            assertThat(status(request(driver, VirtioBlk.T_IN, SECTORS - 1, 2 * VirtioBlk.SECTOR_SIZE)))
                    .as("a read past the end").isEqualTo(VirtioBlk.S_IOERR);
            assertThat(status(request(driver, VirtioBlk.T_IN, SECTORS, VirtioBlk.SECTOR_SIZE)))
                    .as("a read at the end").isEqualTo(VirtioBlk.S_IOERR);
            assertThat(status(request(driver, VirtioBlk.T_IN, 0, 100)))
                    .as("a read of part of a sector").isEqualTo(VirtioBlk.S_IOERR);
            assertThat(status(write(driver, 0))).as("a write").isEqualTo(VirtioBlk.S_IOERR);
            assertThat(status(request(driver, VirtioBlk.T_FLUSH, 0, 0))).as("a flush, not offered")
                    .isEqualTo(VirtioBlk.S_UNSUPP);

            Completion id = request(driver, VirtioBlk.T_GET_ID, 0, VirtioBlk.ID_BYTES);
            assertThat(status(id)).isEqualTo(VirtioBlk.S_OK);
            assertThat(new String(id.writable().get(0), StandardCharsets.US_ASCII)).startsWith(PatternDisk.SERIAL);

            // A chain too short for a header: the handler throws, the SDK answers IOERR, the queue serves on.
            Completion shortOne = driver.submit(0, List.of(new byte[4]), 1).get(30, TimeUnit.SECONDS);
            assertThat(shortOne.writable().get(0)[0]).isEqualTo((byte) VirtioBlk.S_IOERR);
            assertThat(status(request(driver, VirtioBlk.T_IN, 5, VirtioBlk.SECTOR_SIZE))).isEqualTo(VirtioBlk.S_OK);
            assertThat(device.handlerFailures(0)).isEqualTo(1);
        }
        assertThat(kernel.deviceExists("pattern0")).isFalse();
    }

    @Test
    void aDiskOfNoSectorsIsRefused() {
        assertThatThrownBy(() -> new PatternDisk(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one sector");
    }

    private static Completion request(SimulatedDriver driver, int type, long sector, int dataBytes) throws Exception {
        return (dataBytes == 0 ? driver.submit(0, List.of(header(type, sector)), 1)
                : driver.submit(0, List.of(header(type, sector)), dataBytes, 1)).get(30, TimeUnit.SECONDS);
    }

    private static Completion write(SimulatedDriver driver, long sector) throws Exception {
        byte[] data = new byte[VirtioBlk.SECTOR_SIZE];
        Arrays.fill(data, (byte) 0x5a);
        return driver.submit(0, List.of(header(VirtioBlk.T_OUT, sector), data), 1).get(30, TimeUnit.SECONDS);
    }

    private static byte[] header(int type, long sector) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
    }

    private static int status(Completion done) {
        List<byte[]> writable = done.writable();
        byte[] last = writable.get(writable.size() - 1);
        return last[last.length - 1];
    }
}
