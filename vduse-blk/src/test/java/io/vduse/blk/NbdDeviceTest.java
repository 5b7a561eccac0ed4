package io.vduse.blk;

import static io.vduse.blk.BlkRig.header;
import static io.vduse.blk.BlkRig.range;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.blk.nbd.FakeNbdServer;
import io.vduse.blk.nbd.Nbd;
import io.vduse.blk.nbd.NbdBackend;
import io.vduse.blk.nbd.NbdUri;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The device served from an NBD server, through the simulated kernel and driver: a property test
 * over many seeds against a fake server that reorders replies, cuts reads into chunks and holes
 * and drops connections at random points, every byte read back checked against a model; and the
 * server's errors and silence answered with the right virtio status while the device serves on.
 */
class NbdDeviceTest {

    private static final int SIZE = 4 << 20;
    private static final int BLOCK = 512;

    private static BlkRig rig(FakeNbdServer server, int queues, Duration timeout) throws Exception {
        NbdBackend backend = NbdBackend.connect(NbdUri.parse(server.uri()), timeout, queues);
        BlkOptions options = BlkOptions.defaults("nbd" + System.nanoTime() % 100000).withQueues(queues, 64);
        return new BlkRig(options, backend);
    }

    /** {@code length} split into 1 to 4 buffers at random 512-byte boundaries, then the status byte. */
    private static int[] framing(Random random, int length) {
        int pieces = 1 + random.nextInt(4);
        int[] cuts = new int[pieces + 1];
        cuts[pieces] = length / BLOCK;
        for (int i = 1; i < pieces; i++) {
            cuts[i] = random.nextInt(length / BLOCK + 1);
        }
        Arrays.sort(cuts);
        List<Integer> lengths = new ArrayList<>();
        for (int i = 0; i < pieces; i++) {
            if (cuts[i + 1] > cuts[i]) {
                lengths.add((cuts[i + 1] - cuts[i]) * BLOCK);
            }
        }
        lengths.add(1);
        return lengths.stream().mapToInt(Integer::intValue).toArray();
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
    void everyByteReadBackIsRightWhateverTheServerDoes(long seed) throws Exception {
        Random random = new Random(seed);
        try (FakeNbdServer server = FakeNbdServer.tcp(SIZE, seed)) {
            server.reorder = random.nextBoolean() || seed % 4 == 0;
            server.maxChunks = 1 + random.nextInt(8);
            server.structured = seed % 5 != 0;
            server.multiConn = seed % 3 != 0;
            if (seed % 2 == 0) {
                server.blockSizes = new int[] {512, 4096, 16384}; // 64 KiB requests go as 4 parts
            }
            int queues = 1 + random.nextInt(3);
            try (BlkRig rig = rig(server, queues, Duration.ofSeconds(30))) {
                server.dropChance = 0.03;
                byte[] model = new byte[SIZE];
                for (int batch = 0; batch < 10; batch++) {
                    runBatch(rig, random, model, queues);
                }
                // And after all that, the whole model once more, quietly.
                server.dropChance = 0;
                for (int at = 0; at < SIZE; at += 1 << 20) {
                    Completion c = rig.submit(0, List.of(header(VirtioBlk.T_IN, at / BLOCK)), 1 << 20, 1);
                    assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
                    assertThat(c.writable().get(0)).isEqualTo(Arrays.copyOfRange(model, at, at + (1 << 20)));
                }
            }
        }
    }

    /** Up to 24 requests at once on random queues, on ranges that do not overlap, then checked. */
    private static void runBatch(BlkRig rig, Random random, byte[] model, int queues) throws Exception {
        int n = 1 + random.nextInt(24);
        boolean[] taken = new boolean[SIZE / 65536];
        List<CompletableFuture<Completion>> futures = new ArrayList<>();
        List<Runnable> checks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int slot = random.nextInt(taken.length);
            if (taken[slot]) {
                continue;
            }
            taken[slot] = true;
            int length = BLOCK * (1 + random.nextInt(128)); // up to 64 KiB, within the slot
            int offset = slot * 65536 + BLOCK * random.nextInt((65536 - length) / BLOCK + 1);
            int queue = random.nextInt(queues);
            int kind = random.nextInt(10);
            if (kind < 4) {
                byte[] data = new byte[length];
                random.nextBytes(data);
                if (random.nextInt(4) == 0) {
                    Arrays.fill(data, 0, data.length / 2, (byte) 0); // zeros that may come back as holes
                }
                System.arraycopy(data, 0, model, offset, length);
                List<byte[]> readable = new ArrayList<>();
                readable.add(header(VirtioBlk.T_OUT, offset / BLOCK));
                int[] frames = framing(random, length);
                for (int k = 0, at = 0; k < frames.length - 1; at += frames[k], k++) {
                    readable.add(Arrays.copyOfRange(data, at, at + frames[k]));
                }
                CompletableFuture<Completion> f = rig.driver.submit(queue, readable, 1);
                futures.add(f);
                checks.add(() -> assertThat(BlkRig.status(f.join())).isEqualTo(VirtioBlk.S_OK));
            } else if (kind < 9) {
                byte[] expected = Arrays.copyOfRange(model, offset, offset + length);
                int[] frames = framing(random, length);
                CompletableFuture<Completion> f = rig.driver.submit(queue,
                        List.of(header(VirtioBlk.T_IN, offset / BLOCK)), frames);
                futures.add(f);
                checks.add(() -> {
                    Completion c = f.join();
                    assertThat(BlkRig.status(c)).isEqualTo(VirtioBlk.S_OK);
                    byte[] got = new byte[length];
                    for (int k = 0, at = 0; k < frames.length - 1; at += frames[k], k++) {
                        System.arraycopy(c.writable().get(k), 0, got, at, frames[k]);
                    }
                    assertThat(got).as("%d bytes at %d", length, offset).isEqualTo(expected);
                });
            } else {
                int type = random.nextBoolean() ? VirtioBlk.T_DISCARD : VirtioBlk.T_WRITE_ZEROES;
                // The fake server zeroes trimmed ranges, so the model can say what they read as.
                Arrays.fill(model, offset, offset + length, (byte) 0);
                CompletableFuture<Completion> f = rig.driver.submit(queue,
                        List.of(header(type, 0), range(offset / BLOCK, length / BLOCK, 0)), 1);
                futures.add(f);
                checks.add(() -> assertThat(BlkRig.status(f.join())).isEqualTo(VirtioBlk.S_OK));
            }
        }
        for (CompletableFuture<Completion> f : futures) {
            BlkRig.await(f);
        }
        checks.forEach(Runnable::run);
    }

    @Test
    void serverErrorsBecomeVirtioStatuses() throws Exception {
        try (FakeNbdServer server = FakeNbdServer.tcp(SIZE, 1); BlkRig rig = rig(server, 1, Duration.ofSeconds(10))) {
            server.errorFrom = 4096;
            server.errorTo = 8192;
            server.error = Nbd.EIO;
            assertThat(rig.readStatus(0, 8, 4096)).isEqualTo(VirtioBlk.S_IOERR);
            server.error = Nbd.ENOSPC;
            assertThat(rig.write(0, 8, new byte[4096])).isEqualTo(VirtioBlk.S_IOERR);
            server.error = Nbd.EPERM;
            assertThat(rig.write(0, 8, new byte[4096])).isEqualTo(VirtioBlk.S_IOERR);
            server.errorFrom = -1;
            server.unsupported = Set.of(Nbd.CMD_TRIM);
            assertThat(rig.zeroing(VirtioBlk.T_DISCARD, range(0, 8, 0))).isEqualTo(VirtioBlk.S_UNSUPP);
            // The device goes on: the rest of the disk, flush and GET_ID.
            byte[] data = new byte[4096];
            new Random(3).nextBytes(data);
            assertThat(rig.write(0, 16, data)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(0, 16, 4096)).isEqualTo(data);
            assertThat(rig.simple(VirtioBlk.T_FLUSH, 0)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.simple(VirtioBlk.T_GET_ID, 0)).isEqualTo(VirtioBlk.S_OK);
            // Bad requests never reach the server.
            long before = server.requests();
            assertThat(rig.readStatus(0, SIZE / BLOCK, 512)).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.simple(99, 0)).isEqualTo(VirtioBlk.S_UNSUPP);
            assertThat(server.requests()).isEqualTo(before);
        }
    }

    @Test
    void aSilentServerFailsRequestsAfterTheTimeoutAndTheDeviceServesOnOnceItAnswers() throws Exception {
        try (FakeNbdServer server = FakeNbdServer.tcp(SIZE, 1); BlkRig rig = rig(server, 1, Duration.ofSeconds(1))) {
            server.silent = true;
            long start = System.nanoTime();
            assertThat(rig.readStatus(0, 0, 4096)).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(rig.write(0, 0, new byte[4096])).isEqualTo(VirtioBlk.S_IOERR);
            assertThat(System.nanoTime() - start).isGreaterThan(Duration.ofMillis(1800).toNanos());
            server.silent = false;
            byte[] data = new byte[4096];
            new Random(4).nextBytes(data);
            assertThat(rig.write(0, 0, data)).isEqualTo(VirtioBlk.S_OK);
            assertThat(rig.read(0, 0, 4096)).isEqualTo(data);
            assertThat(rig.device.counters(0).get(QueueCounters.Counter.IO_ERRORS)).isEqualTo(2);
        }
    }

    @Test
    void aServerKilledAndRestartedLosesNoWrite() throws Exception {
        try (FakeNbdServer server = FakeNbdServer.tcp(SIZE, 1); BlkRig rig = rig(server, 2, Duration.ofSeconds(30))) {
            byte[][] blocks = new byte[32][4096];
            List<CompletableFuture<Completion>> writes = new ArrayList<>();
            server.silent = true;
            for (int i = 0; i < blocks.length; i++) {
                new Random(i).nextBytes(blocks[i]);
                writes.add(rig.driver.submit(i % 2, List.of(header(VirtioBlk.T_OUT, i * 8L), blocks[i]), 1));
            }
            Thread.sleep(300);
            server.stop();
            server.silent = false;
            Thread.sleep(300);
            server.start();
            for (CompletableFuture<Completion> w : writes) {
                assertThat(BlkRig.status(BlkRig.await(w))).isEqualTo(VirtioBlk.S_OK);
            }
            for (int i = 0; i < blocks.length; i++) {
                assertThat(rig.read(i % 2, i * 8L, 4096)).isEqualTo(blocks[i]);
            }
            assertThat(((NbdBackend) rig.backend).reconnects()).isGreaterThanOrEqualTo(1);
        }
    }
}
