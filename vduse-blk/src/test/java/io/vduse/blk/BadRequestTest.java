package io.vduse.blk;

import static io.vduse.blk.BlkRig.header;
import static io.vduse.blk.BlkRig.range;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.blk.QueueCounters.Counter;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a driver may get wrong, each answered IOERR or UNSUPP (or the chain returned unanswered
 * when it has no byte for a status), with the queue serving the next request as before.
 */
class BadRequestTest {

    private static final long SIZE = 1L << 20;
    private static final long SECTORS = SIZE / 512;

    /** After each bad request, a good one must still go through. */
    private static void stillServes(BlkRig rig) throws Exception {
        byte[] data = new byte[512];
        data[0] = 42;
        assertThat(rig.write(0, 1, data)).isEqualTo(VirtioBlk.S_OK);
        assertThat(rig.read(0, 1, 512)).isEqualTo(data);
    }

    @Test
    void rangesOutsideTheCapacityOrOffTheBlockSizeAreIoErrors() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-range"), new MemoryBackend(SIZE))) {
            assertThat(rig.write(0, SECTORS, new byte[512])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.write(0, SECTORS - 1, new byte[1024])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, SECTORS, 512)).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, Long.MAX_VALUE / 256, 512)).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, -1, 512)).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.write(0, 0, new byte[100])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, 0, 513)).isEqualTo(VirtioBlk.S_IOERR);
            // The last sector is fine.
            assertThat(rig.write(0, SECTORS - 1, new byte[512])).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.device.counters(0).get(Counter.IO_ERRORS)).isEqualTo(7);
            stillServes(rig);
        }
    }

    @Test
    void withFourKiloByteBlocksSectorsAndLengthsMustBeWholeBlocks() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-4k").withLogicalBlockSize(4096), new MemoryBackend(SIZE))) {
            assertThat(rig.write(0, 1, new byte[4096])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.write(0, 8, new byte[512])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.write(0, 8, new byte[4096])).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(4, 8, 0))).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(8, 8, 0))).isEqualTo(VirtioBlk.S_OK);
        }
    }

    /**
     * Buffers beyond {@code size_max} are served (see {@link LargeRequestTest}); what still fails
     * a large request is its range: past the capacity, a sector whose byte offset would overflow,
     * a length off the block size, or a write to a read-only disk.
     */
    @Test
    void largeRequestsAreStillCheckedAgainstTheCapacity() throws Exception {
        int disk = 4 << 20;
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-big"), new MemoryBackend(disk))) {
            // The whole disk in one buffer is fine; one sector further, or one sector longer, is not.
            assertThat(rig.write(0, 0, new byte[disk])).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.readStatus(0, 0, disk)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.write(0, 1, new byte[disk])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, 8, disk)).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, 0, disk + 512)).isEqualTo(VirtioBlk.S_IOERR);
            // 2^55 sectors are 2^64 bytes: offset 0 if multiplied first, which the range check is not.
            assertThat(rig.write(0, 1L << 55, new byte[2 << 20])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, 1L << 55, 2 << 20)).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.write(0, 0, new byte[(2 << 20) + 100])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.device.counters(0).get(Counter.IO_ERRORS)).isEqualTo(6);
            stillServes(rig);
        }
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-big-ro").withReadOnly(true), new MemoryBackend(disk))) {
            assertThat(rig.write(0, 0, new byte[disk])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, 0, disk)).isEqualTo(VirtioBlk.S_OK);
        }
    }

    @Test
    void shortHeadersAndMissingStatusBuffersDoNotStopTheQueue() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-short"), new MemoryBackend(SIZE))) {
            // 8 bytes of header only: IOERR.
            Completion shortHeader = rig.submit(0, List.of(new byte[8]), 1);
            assertThat(BlkRig.status(shortHeader)).isEqualTo(VirtioBlk.S_IOERR);
            // No readable buffer at all.
            Completion noHeader = rig.submit(0, List.of(), 1);
            assertThat(BlkRig.status(noHeader)).isEqualTo(VirtioBlk.S_IOERR);
            // No writable byte for a status: returned untouched.
            Completion noStatus = rig.submit(0, List.of(header(VirtioBlk.T_OUT, 0), new byte[512]));
            assertThat(noStatus.usedLength()).isZero();
            assertThat(rig.device.counters(0).get(Counter.REFUSED)).isEqualTo(1);
            // A read whose only writable byte is the status reads nothing, successfully.
            assertThat(BlkRig.status(rig.submit(0, List.of(header(VirtioBlk.T_IN, 0)), 1))).isEqualTo(VirtioBlk.S_OK);
            stillServes(rig);
        }
    }

    @Test
    void discardAndWriteZeroesRefuseWhatTheyDoNotKnow() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-dwz"), new MemoryBackend(SIZE))) {
            // Flags: discard has none, write-zeroes only UNMAP.
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(0, 8, 1))).isEqualTo(VirtioBlk.S_UNSUPP);
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(0, 8, 2))).isEqualTo(VirtioBlk.S_UNSUPP);
            // No range, a partial range, too many ranges.
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD)).isEqualTo(VirtioBlk.S_UNSUPP);
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, new byte[10])).isEqualTo(VirtioBlk.S_UNSUPP);
            byte[][] many = new byte[BlkConfigSpace.MAX_ZEROING_SEGMENTS + 1][];
            for (int i = 0; i < many.length; i++) {
                many[i] = range(i * 8L, 8, 0);
            }
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, many)).isEqualTo(VirtioBlk.S_UNSUPP);
            // Out of range, and more sectors than max_discard_sectors: IOERR, and nothing applied.
            byte[] data = new byte[512];
            data[7] = 7;
            assertThat(rig.write(0, 0, data)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(0, 1, 0), range(SECTORS, 8, 0)))
                    .isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(0, BlkConfigSpace.MAX_ZEROING_SECTORS + 8, 0)))
                    .isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.read(0, 0, 512)).isEqualTo(data);
            stillServes(rig);
        }
    }

    @Test
    void aReadOnlyDeviceFailsEveryWrite() throws Exception {
        MemoryBackend memory = new MemoryBackend(SIZE);
        byte[] data = new byte[512];
        data[3] = 3;
        memory.write(0, java.lang.foreign.Arena.global().allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, data),
                512);
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-ro").withReadOnly(true), memory)) {
            assertThat(VirtioFeatures.has(rig.driver.negotiatedFeatures(), VirtioBlk.F_RO)).isTrue();
            assertThat(rig.write(0, 0, new byte[512])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(0, 8, 0))).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(0, 8, 0))).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.read(0, 0, 512)).isEqualTo(data);
            assertThat(rig.simple(VirtioBlk.T_FLUSH, 0)).isEqualTo(VirtioBlk.S_OK);
        }
    }

    @Test
    void aBackendFailureFailsThatRequestOnly() throws Exception {
        CountingBackend backend = new CountingBackend(new MemoryBackend(SIZE), n -> n == 3);
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-fail"), backend)) {
            for (int i = 1; i <= 6; i++) {
                byte[] data = new byte[512];
                data[0] = (byte) i;
                int status = rig.write(0, i, data);
                assertThat(status).as("write %d", i).isEqualTo(i == 3 ? VirtioBlk.S_IOERR : VirtioBlk.S_OK);
            }
            for (int i = 1; i <= 6; i++) {
                byte[] expected = new byte[512];
                expected[0] = (byte) (i == 3 ? 0 : i);
                assertThat(rig.read(0, i, 512)).as("sector %d", i).isEqualTo(expected);
            }
            assertThat(rig.device.vduseDevice().handlerFailures(0)).isEqualTo(1);
            assertThat(rig.device.counters(0).get(Counter.IO_ERRORS)).isEqualTo(1);
        }
    }
}
