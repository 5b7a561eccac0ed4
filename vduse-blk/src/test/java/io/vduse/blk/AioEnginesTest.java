package io.vduse.blk;

import static io.vduse.blk.BlkRig.header;
import static io.vduse.blk.BlkRig.range;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.uring.IoUring;
import io.vduse.virtqueue.IoVectors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every {@code --aio} engine serves a file the same way: the bytes land where they belong in any
 * framing, flush, discard and GET_ID answer, bad requests get IOERR, and a file that shrank
 * underneath fails only the requests past its end. With io_uring, a pass's requests go to the
 * kernel together.
 */
class AioEnginesTest {

    private static final int MIB = 1 << 20;

    /**
     * Under the build directory rather than the system's temporary directory, which may be a
     * tmpfs: a file there is not served on io_uring whatever the engine asked for (see the tmpfs test).
     */
    Path dir;

    @BeforeEach
    void makeDirectory() throws Exception {
        Path target = Path.of("target");
        Files.createDirectories(target);
        dir = Files.createTempDirectory(target, "aio-engines");
    }

    @AfterEach
    void removeDirectory() throws Exception {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Opens {@code file}, skipping io_uring where the build directory itself is in memory. */
    private static FileBackend open(Path file, BlkAio aio, boolean readOnly, long size) throws Exception {
        FileBackend backend = FileBackend.open(file, readOnly, false, size);
        if (aio == BlkAio.IO_URING && backend.inMemory()) {
            backend.close();
            Assumptions.abort("the build directory is on tmpfs, where io_uring is not used");
        }
        return backend;
    }

    private static byte[] random(int length, long seed) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }

    private static BlkOptions options(String name, BlkAio aio) {
        return BlkOptions.defaults(name).withQueues(1, 128).withAio(aio, aio == BlkAio.THREADS ? 4 : 0);
    }

    @ParameterizedTest
    @EnumSource(BlkAio.class)
    void everyFramingLandsInTheFileAndReadsBack(BlkAio aio) throws Exception {
        Path file = dir.resolve("frames.img");
        String name = "t-aio-" + aio.cliName().replace('_', '-');
        try (BlkRig rig = new BlkRig(options(name, aio), open(file, aio, false, 64L * MIB),
                SimulatedDriver.Options.defaults().withQueueSize(128))) {
            assertThat(rig.device.aio()).isEqualTo(aio);
            assertThat(rig.device.aioNote()).isNull();
            // One sector, 4 KiB, 1 MiB, 4 MiB in one buffer.
            int[] sizes = {512, 4096, MIB, 4 * MIB};
            long sector = 0;
            for (int size : sizes) {
                byte[] data = random(size, size);
                assertThat(rig.write(0, sector, data)).as("%s: write of %d", aio, size).isEqualTo(VirtioBlk.S_OK);
                assertThat(rig.read(0, sector, size)).as("%s: read of %d", aio, size).isEqualTo(data);
                assertThat(BlkRig.fileBytes(file, sector * 512, size)).isEqualTo(data);
                sector += size / 512 + 8;
            }
            // 100 buffers of 4 KiB in one request: more pieces than one io_uring operation takes (64).
            List<byte[]> pieces = new ArrayList<>();
            pieces.add(header(VirtioBlk.T_OUT, 40_000));
            byte[] all = random(100 * 4096, 100);
            for (int i = 0; i < 100; i++) {
                pieces.add(Arrays.copyOfRange(all, i * 4096, (i + 1) * 4096));
            }
            assertThat(BlkRig.status(rig.submit(0, pieces, 1))).isEqualTo(VirtioBlk.S_OK);
            assertThat(BlkRig.fileBytes(file, 40_000L * 512, all.length)).isEqualTo(all);
            int[] writable = new int[101];
            Arrays.fill(writable, 4096);
            writable[100] = 1;
            Completion c = rig.submit(0, List.of(header(VirtioBlk.T_IN, 40_000)), writable);
            assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
            for (int i = 0; i < 100; i++) {
                assertThat(c.writable().get(i)).as("%s: piece %d", aio, i)
                        .isEqualTo(Arrays.copyOfRange(all, i * 4096, (i + 1) * 4096));
            }
            assertThat(c.usedLength()).isEqualTo(100 * 4096 + 1);
            // Odd pieces: 100, 3000 and 13 bytes (a 512-multiple in all), header and status shared.
            byte[] odd = random(3113 + 471, 7);
            byte[] first = new byte[16 + 100];
            System.arraycopy(header(VirtioBlk.T_OUT, 50_000), 0, first, 0, 16);
            System.arraycopy(odd, 0, first, 16, 100);
            assertThat(BlkRig.status(rig.submit(0, List.of(first, Arrays.copyOfRange(odd, 100, 3100),
                    Arrays.copyOfRange(odd, 3100, odd.length)), 1))).isEqualTo(VirtioBlk.S_OK);
            assertThat(odd.length % 512).isZero();
            assertThat(BlkRig.fileBytes(file, 50_000L * 512, odd.length)).isEqualTo(odd);

            assertThat(rig.simple(VirtioBlk.T_FLUSH, 0)).isEqualTo(VirtioBlk.S_OK);
            Completion id = rig.submit(0, List.of(header(VirtioBlk.T_GET_ID, 0)), VirtioBlk.ID_BYTES, 1);
            assertThat(BlkRig.status(id)).isEqualTo(VirtioBlk.S_OK);
            assertThat(new String(id.writable().get(0)).strip()).startsWith(name.substring(0, Math.min(20, name.length())));
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(0, 8, 0))).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(0, 0, 4096)).isEqualTo(new byte[4096]);

            QueueCounters counters = rig.device.counters(0);
            assertThat(counters.get(QueueCounters.Counter.FLUSHES)).isEqualTo(1);
            assertThat(counters.get(QueueCounters.Counter.WRITES)).isEqualTo(sizes.length + 2);
            assertThat(counters.get(QueueCounters.Counter.IO_ERRORS)).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(BlkAio.class)
    void badRequestsGetIoErrAndTheQueueGoesOn(BlkAio aio) throws Exception {
        Path file = dir.resolve("bad.img");
        String name = "t-bad-" + aio.cliName().replace('_', '-');
        try (BlkRig rig = new BlkRig(options(name, aio), open(file, aio, false, MIB))) {
            long sectors = MIB / 512;
            assertThat(rig.readStatus(0, sectors, 512)).as("past the end").isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.readStatus(0, sectors - 1, 1024)).as("across the end").isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.write(0, 0, new byte[100])).as("off the block size").isEqualTo(VirtioBlk.S_IOERR);
            assertThat(BlkRig.status(rig.submit(0, List.of(new byte[8]), 1))).as("short header")
                    .isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.simple(99, 0)).as("unknown type").isEqualTo(VirtioBlk.S_UNSUPP);
            byte[] data = random(4096, 3);
            assertThat(rig.write(0, 8, data)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(0, 8, 4096)).isEqualTo(data);

            // The file shrinks behind the device's back: reads past the new end fail, the rest serve.
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(64 * 1024);
            }
            assertThat(rig.readStatus(0, 1024, 4096)).as("past the end of the shrunk file").isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.read(0, 8, 4096)).isEqualTo(data);
            assertThat(rig.device.counters(0).get(QueueCounters.Counter.IO_ERRORS)).isEqualTo(5);
        }
    }

    @ParameterizedTest
    @EnumSource(BlkAio.class)
    void aReadOnlyDeviceRefusesWritesAndFlushesStillAnswer(BlkAio aio) throws Exception {
        Path file = dir.resolve("ro.img");
        Files.write(file, random(MIB, 11));
        String name = "t-ro-" + aio.cliName().replace('_', '-');
        try (BlkRig rig = new BlkRig(options(name, aio).withReadOnly(true), open(file, aio, true, 0))) {
            assertThat(rig.write(0, 0, new byte[512])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.read(0, 0, 4096)).isEqualTo(Arrays.copyOf(random(MIB, 11), 4096));
            assertThat(rig.simple(VirtioBlk.T_FLUSH, 0)).isEqualTo(VirtioBlk.S_OK);
        }
        assertThat(Files.readAllBytes(file)).isEqualTo(random(MIB, 11));
    }

    @ParameterizedTest
    @EnumSource(BlkAio.class)
    void discardAndWriteZeroesClearTheirRangesAndNothingElse(BlkAio aio) throws Exception {
        Path file = dir.resolve("zeroing.img");
        String name = "t-zero-" + aio.cliName().replace('_', '-');
        try (BlkRig rig = new BlkRig(options(name, aio), open(file, aio, false, MIB))) {
            byte[] data = random(128 * 512, 5);
            assertThat(rig.write(0, 0, data)).isEqualTo(VirtioBlk.S_OK);
            long before = aio == BlkAio.IO_URING ? rig.device.uringHandler(0).submissions() : 0;
            // Two ranges, one of them empty, with and without the unmap flag; then a discard.
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(8, 8, VirtioBlk.WRITE_ZEROES_FLAG_UNMAP),
                    range(20, 0, 0), range(32, 16, 0))).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(64, 8, 0))).isEqualTo(VirtioBlk.S_OK);
            // A bad range among good ones changes nothing.
            assertThat(rig.zeroing(VirtioBlk.T_WRITE_ZEROES, range(96, 8, 0), range(MIB / 512, 8, 0)))
                    .isEqualTo(VirtioBlk.S_IOERR);
            byte[] expected = data.clone();
            Arrays.fill(expected, 8 * 512, 16 * 512, (byte) 0);
            Arrays.fill(expected, 32 * 512, 48 * 512, (byte) 0);
            Arrays.fill(expected, 64 * 512, 72 * 512, (byte) 0);
            assertThat(rig.read(0, 0, data.length)).isEqualTo(expected);
            assertThat(BlkRig.fileBytes(file, 0, data.length)).isEqualTo(expected);
            QueueCounters counters = rig.device.counters(0);
            assertThat(counters.get(QueueCounters.Counter.WRITE_ZEROES)).isEqualTo(1);
            assertThat(counters.get(QueueCounters.Counter.DISCARDS)).isEqualTo(1);
            assertThat(counters.get(QueueCounters.Counter.IO_ERRORS)).isEqualTo(1);
            if (aio == BlkAio.IO_URING) {
                // Each range is a FALLOCATE in the ring, not a call on the queue's thread: the
                // write-zeroes took at least two submissions (a range a time), the discard one.
                assertThat(rig.device.uringHandler(0).submissions() - before).isGreaterThanOrEqualTo(3);
            }
        }
    }

    @Test
    void ioUringTakesAPassOfRequestsInOneSubmission() throws Exception {
        Path file = dir.resolve("batch.img");
        byte[] data = random(64 * 4096, 21);
        Files.write(file, data);
        try (BlkRig rig = new BlkRig(options("t-batch", BlkAio.IO_URING), open(file, BlkAio.IO_URING, false, 0),
                SimulatedDriver.Options.defaults().withQueueSize(128))) {
            UringQueueHandler handler = rig.device.uringHandler(0);
            // 32 reads made available before the device looks: one pass pops them all.
            rig.driver.holdKicks(0, true);
            List<CompletableFuture<Completion>> reads = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                reads.add(rig.driver.submit(0, List.of(header(VirtioBlk.T_IN, i * 8L)), 4096, 1));
            }
            long before = handler.submissions();
            rig.driver.holdKicks(0, false);
            for (int i = 0; i < 32; i++) {
                Completion c = BlkRig.await(reads.get(i));
                assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
                assertThat(c.writable().get(0)).isEqualTo(Arrays.copyOfRange(data, i * 4096, (i + 1) * 4096));
            }
            assertThat(handler.submissions() - before).as("io_uring_enter calls for 32 reads of one pass")
                    .isLessThanOrEqualTo(2);
            assertThat(handler.mostInFlight()).isGreaterThanOrEqualTo(16);
        }
    }

    @Test
    void ioUringCompletionsAtSubmissionCostNoWakeUp() throws Exception {
        Path file = dir.resolve("waits.img");
        byte[] data = random(64 * 4096, 22);
        Files.write(file, data);
        assumeReadsCompleteAtSubmission(file);
        try (BlkRig rig = new BlkRig(options("t-waits", BlkAio.IO_URING), open(file, BlkAio.IO_URING, false, 0))) {
            int reads = 64;
            long before = rig.device.vduseDevice().waits(0);
            for (int i = 0; i < reads; i++) {
                // One at a time: each read is a kick, a pass and a wait for the next kick; the
                // page cache answers in the io_uring_enter that submits it, and it is reaped there.
                assertThat(rig.read(0, i * 8L, 4096)).isEqualTo(Arrays.copyOfRange(data, i * 4096, (i + 1) * 4096));
            }
            long waits = rig.device.vduseDevice().waits(0) - before;
            // A thread woken by its completions as well (an eventfd the ring signals) waits twice per read.
            assertThat(waits).as("waits in poll for %d reads one after another", reads)
                    .isBetween((long) reads / 2, reads + reads / 4L);
        }
    }

    /**
     * Skips the test where a buffered read of the page cache does not complete inside the
     * {@code io_uring_enter} that submits it (a file system without non-blocking reads).
     */
    private static void assumeReadsCompleteAtSubmission(Path file) throws Exception {
        try (FileBackend backend = FileBackend.open(file, true, false, 0);
                IoUring ring = IoUring.open(2);
                Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(4096);
            IoVectors vectors = new IoVectors(1, 1);
            vectors.add(buffer.address(), buffer.byteSize());
            ring.prepareReadv(backend.fd(), vectors.array(), vectors.count(), 0, 1);
            ring.submit();
            boolean inline = ring.ready() == 1;
            ring.submitAndWait(inline ? 0 : 1);
            Assumptions.assumeTrue(inline, "a page-cache read is not answered at submission on this file system");
        }
    }

    @Test
    void aFileOnTmpfsCopiesSmallRequestsOnTheQueueThreadAndLargeOnesOnIoThreads() throws Exception {
        Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm), "no /dev/shm here");
        Path file = Files.createTempFile(shm, "aio-engines", ".img");
        try {
            Files.delete(file);
            FileBackend backend = FileBackend.open(file, false, false, MIB);
            if (!backend.inMemory()) {
                backend.close();
                Assumptions.abort("/dev/shm is not a tmpfs here");
            }
            try (BlkRig rig = new BlkRig(options("t-shm", BlkAio.IO_URING), backend)) {
                assertThat(rig.device.aio()).isEqualTo(BlkAio.THREADS);
                assertThat(rig.device.ioThreads()).isEqualTo(BlkOptions.DEFAULT_IO_THREADS);
                assertThat(rig.device.inlineLimit()).isEqualTo(VirtioBlkDevice.IN_MEMORY_INLINE_LIMIT);
                assertThat(rig.device.aioNote()).contains("tmpfs").contains("64 KiB");
                // At the limit (64 KiB of data and the 16-byte header) and above it.
                int large = (int) VirtioBlkDevice.IN_MEMORY_INLINE_LIMIT * 2;
                byte[] small = random(4096, 8);
                byte[] big = random(large, 9);
                assertThat(rig.write(0, 8, small)).isEqualTo(VirtioBlk.S_OK);
                assertThat(rig.write(0, 1024, big)).isEqualTo(VirtioBlk.S_OK);
                assertThat(rig.read(0, 8, 4096)).isEqualTo(small);
                assertThat(rig.read(0, 1024, large)).isEqualTo(big);
                assertThat(rig.device.requestsHandedToIoThreads()).isEqualTo(2);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void aBackendThatIsNotAFileIsServedSyncAndSaysSo() throws Exception {
        try (BlkRig rig = new BlkRig(BlkOptions.defaults("t-mem-aio"), new MemoryBackend(MIB))) {
            assertThat(rig.device.aio()).isEqualTo(BlkAio.SYNC);
            assertThat(rig.device.aioNote()).contains("not a file or block device");
            assertThat(rig.write(0, 0, new byte[512])).isEqualTo(VirtioBlk.S_OK);
        }
    }
}
