package io.vduse.blk.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The client against the fake server: data round trips in every reply shape, many requests in
 * flight answered out of order, the server's errors, and every fault a client must survive:
 * garbage replies, a silent server, a server that goes away and comes back.
 */
class NbdClientTest {

    private FakeNbdServer server;
    private NbdBackend nbd;
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void stop() throws Exception {
        if (nbd != null) {
            nbd.close();
        }
        server.close();
        arena.close();
    }

    private NbdBackend connect(Duration timeout, int queues) throws Exception {
        nbd = NbdBackend.connect(NbdUri.parse(server.uri()), timeout, queues);
        return nbd;
    }

    private MemorySegment random(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return arena.allocate(length).copyFrom(MemorySegment.ofArray(bytes));
    }

    private byte[] read(long offset, int length) throws Exception {
        MemorySegment buffer = arena.allocate(length);
        nbd.read(offset, buffer, length);
        return buffer.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void roundTripsInChunksHolesAndSplitsAboveTheMaximumPayload() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 7);
        server.maxChunks = 6;
        server.reorder = true;
        server.blockSizes = new int[] {512, 4096, 8192};
        connect(Duration.ofSeconds(5), 1);
        MemorySegment data = random(65536, 1);
        nbd.write(4096, data, 65536);
        // 8 KiB payloads: the 64 KiB write went as 8 commands.
        assertThat(server.commands[Nbd.CMD_WRITE].get()).isEqualTo(8);
        assertThat(server.bytes(4096, 65536)).isEqualTo(data.toArray(ValueLayout.JAVA_BYTE));
        assertThat(read(4096, 65536)).isEqualTo(data.toArray(ValueLayout.JAVA_BYTE));
        // Zeros come back as holes most of the time; the bytes must be zeros all the same.
        nbd.writeZeroes(8192, 16384, false);
        nbd.discard(32768, 4096);
        byte[] expected = data.toArray(ValueLayout.JAVA_BYTE);
        Arrays.fill(expected, 8192 - 4096, 8192 - 4096 + 16384, (byte) 0);
        Arrays.fill(expected, 32768 - 4096, 32768, (byte) 0);
        for (int i = 0; i < 20; i++) {
            assertThat(read(4096, 65536)).isEqualTo(expected);
        }
        nbd.flush();
        assertThat(server.commands[Nbd.CMD_FLUSH].get()).isEqualTo(1);
        assertThat(server.commands[Nbd.CMD_WRITE_ZEROES].get()).isEqualTo(1);
        assertThat(server.commands[Nbd.CMD_TRIM].get()).isEqualTo(1);
    }

    @Test
    void simpleRepliesOverAUnixSocket(@TempDir Path dir) throws Exception {
        server = FakeNbdServer.unix(1 << 20, 7, dir.resolve("nbd.sock"));
        server.structured = false;
        connect(Duration.ofSeconds(5), 1);
        MemorySegment data = random(12288, 2);
        nbd.write(0, data, 12288);
        assertThat(read(0, 12288)).isEqualTo(data.toArray(ValueLayout.JAVA_BYTE));
    }

    /** Starts (or holds) a 4 KiB command of {@code type} per buffer, block {@code i} at {@code i * 4096}. */
    private static List<CompletableFuture<Integer>> transfers(NbdConnection connection, boolean hold, int type,
            ByteBuffer[] buffers) {
        List<CompletableFuture<Integer>> answers = new ArrayList<>();
        for (int i = 0; i < buffers.length; i++) {
            CompletableFuture<Integer> f = new CompletableFuture<>();
            ByteBuffer[] data = {buffers[i]};
            if (hold) {
                NbdTransfer.hold(connection, type, 0, i * 4096L, 4096, data, f::complete);
            } else {
                NbdTransfer.start(connection, type, 0, i * 4096L, 4096, data, f::complete);
            }
            answers.add(f);
        }
        return answers;
    }

    private byte[][] blocks(int n, long seed) {
        byte[][] blocks = new byte[n][];
        for (int i = 0; i < n; i++) {
            blocks[i] = random(4096, seed + i).toArray(ValueLayout.JAVA_BYTE);
        }
        return blocks;
    }

    private static ByteBuffer[] wrap(byte[][] blocks) {
        return Arrays.stream(blocks).map(ByteBuffer::wrap).toArray(ByteBuffer[]::new);
    }

    private static ByteBuffer[] direct(int n) {
        ByteBuffer[] buffers = new ByteBuffer[n];
        Arrays.setAll(buffers, i -> ByteBuffer.allocateDirect(4096));
        return buffers;
    }

    private static void assertAnsweredWith(List<CompletableFuture<Integer>> answers, ByteBuffer[] into, byte[][] blocks)
            throws Exception {
        for (int i = 0; i < answers.size(); i++) {
            assertThat(answers.get(i).get(10, TimeUnit.SECONDS)).isZero();
            if (into != null) {
                byte[] got = new byte[4096];
                into[i].get(0, got);
                assertThat(got).as("block %d", i).isEqualTo(blocks[i]);
            }
        }
    }

    @Test
    void manyInFlightAnsweredInAnyOrder() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 3);
        server.reorder = true;
        server.maxChunks = 4;
        connect(Duration.ofSeconds(10), 1);
        NbdConnection connection = nbd.connection(0);
        byte[][] blocks = blocks(128, 100);
        assertAnsweredWith(transfers(connection, false, Nbd.CMD_WRITE, wrap(blocks)), null, null);
        ByteBuffer[] into = direct(blocks.length);
        assertAnsweredWith(transfers(connection, false, Nbd.CMD_READ, into), into, blocks);
    }

    /**
     * Held commands wait for the pass's end: nothing reaches the server before
     * {@link NbdConnection#sendHeld}, and then reads and writes, in batches larger than one
     * gathering write takes, are all answered with the right data.
     */
    @Test
    void heldCommandsGoOutTogetherAtSendHeld() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 5);
        server.reorder = true;
        connect(Duration.ofSeconds(10), 1);
        NbdConnection connection = nbd.connection(0);
        byte[][] blocks = blocks(100, 300); // more than one batch of a gathering write
        List<CompletableFuture<Integer>> writes = transfers(connection, true, Nbd.CMD_WRITE, wrap(blocks));
        Thread.sleep(200);
        assertThat(server.requests()).as("requests at the server before sendHeld").isZero();
        assertThat(writes).noneMatch(CompletableFuture::isDone);
        connection.sendHeld();
        assertAnsweredWith(writes, null, null);
        ByteBuffer[] into = direct(blocks.length);
        List<CompletableFuture<Integer>> reads = transfers(connection, true, Nbd.CMD_READ, into);
        connection.sendHeld();
        assertAnsweredWith(reads, into, blocks);
        assertThat(server.bytes(0, 4096)).isEqualTo(blocks[0]);
        assertThat(server.requests()).isEqualTo(2L * blocks.length);
    }

    /**
     * The reader never waits for a sender. Here the server answers an 8 MiB write as soon as its
     * header is in, then sends the 8 MiB of an earlier read, and reads the write's data only after
     * that: the write's sender is still in {@code write()} (a Unix socket holds a few hundred KiB)
     * when its reply comes. A reader that waited for the sender to let go of the write would never
     * take the read's data, and the server, the sender and the reader would all wait for ever (as
     * the reader did, spinning, before; on a busy CPU the same wait, for a sender preempted just
     * after its last write, cost a time slice per request).
     */
    @Test
    void aReplyThatOvertakesItsWriteLeavesTheReaderFree(@TempDir Path dir) throws Exception {
        int size = 8 << 20;
        server = FakeNbdServer.unix(2 * size, 5, dir.resolve("nbd.sock"));
        server.structured = false; // the read's reply is 8 MiB of data, not a hole
        server.answerNextWriteEarly = true;
        connect(Duration.ofSeconds(60), 1);
        NbdConnection connection = nbd.connection(0);
        MemorySegment into = arena.allocate(size);
        CompletableFuture<Integer> read = new CompletableFuture<>();
        NbdTransfer.start(connection, Nbd.CMD_READ, 0, size, size, new ByteBuffer[] {into.asByteBuffer()},
                read::complete);
        MemorySegment data = random(size, 9);
        CompletableFuture<Integer> write = new CompletableFuture<>();
        Thread sender = Thread.ofPlatform().start(() -> NbdTransfer.start(connection, Nbd.CMD_WRITE, 0, 0, size,
                new ByteBuffer[] {data.asByteBuffer()}, write::complete));
        assertThat(read.get(30, TimeUnit.SECONDS)).isZero();
        assertThat(write.get(30, TimeUnit.SECONDS)).isZero();
        sender.join();
        assertThat(into.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(new byte[size]);
        assertThat(read(0, size)).isEqualTo(data.toArray(ValueLayout.JAVA_BYTE));
        assertThat(nbd.reconnects()).isZero();
    }

    @Test
    void serverErrorsFailTheRequestNamingTheError() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 3);
        connect(Duration.ofSeconds(5), 1);
        server.errorFrom = 8192;
        server.errorTo = 12288;
        server.error = Nbd.EIO;
        assertThatThrownBy(() -> read(8192, 4096)).hasMessageContaining("NBD_CMD_READ").hasMessageContaining("EIO (5)");
        server.error = Nbd.ENOSPC;
        assertThatThrownBy(() -> nbd.write(8192, random(4096, 1), 4096)).hasMessageContaining("ENOSPC (28)");
        // Outside the range all is well, on the same connection.
        assertThat(read(0, 4096)).hasSize(4096);
        assertThat(nbd.reconnects()).isZero();
    }

    @Test
    void writeZeroesWithoutTheCommandWritesZeros() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 3);
        server.extraFlags = 0;
        connect(Duration.ofSeconds(5), 1);
        nbd.write(0, random(8192, 5), 8192);
        nbd.writeZeroes(0, 8192, true);
        nbd.discard(0, 4096); // no trim: nothing sent
        nbd.flush(); // no flush: nothing sent
        assertThat(read(0, 8192)).isEqualTo(new byte[8192]);
        assertThat(server.commands[Nbd.CMD_WRITE_ZEROES].get()).isZero();
        assertThat(server.commands[Nbd.CMD_TRIM].get()).isZero();
        assertThat(server.commands[Nbd.CMD_FLUSH].get()).isZero();
    }

    @ParameterizedTest
    @EnumSource(FakeNbdServer.Garbage.class)
    void garbageDropsTheConnectionAndTheRequestIsRetried(FakeNbdServer.Garbage kind) throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 3);
        connect(Duration.ofSeconds(10), 1);
        MemorySegment data = random(8192, 9);
        nbd.write(0, data, 8192);
        server.garbage = kind;
        server.garbageLeft.set(1);
        if (kind == FakeNbdServer.Garbage.DATA_FOR_WRITE) {
            nbd.write(0, data, 8192);
        } else {
            assertThat(read(0, 8192)).isEqualTo(data.toArray(ValueLayout.JAVA_BYTE));
        }
        assertThat(nbd.reconnects()).isEqualTo(1);
        assertThat(server.connectionsAccepted()).isEqualTo(2);
    }

    @Test
    void aServerAnsweringOnlyGarbageFailsTheRequestAfterTheTimeout() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 3);
        connect(Duration.ofSeconds(1), 1);
        server.garbage = FakeNbdServer.Garbage.BAD_MAGIC;
        server.garbageLeft.set(Integer.MAX_VALUE);
        long start = System.nanoTime();
        assertThatThrownBy(() -> read(0, 4096)).hasMessageContaining("timed out");
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(900));
        server.garbageLeft.set(0);
        assertThat(read(0, 4096)).hasSize(4096);
    }

    @Test
    void aSilentServerTimesOutAndTheConnectionServesOnAfterwards() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 3);
        connect(Duration.ofSeconds(1), 1);
        server.silent = true;
        assertThatThrownBy(() -> read(0, 4096)).hasMessageContaining("timed out");
        server.silent = false;
        MemorySegment data = random(4096, 11);
        nbd.write(4096, data, 4096);
        assertThat(read(4096, 4096)).isEqualTo(data.toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void requestsInFlightWhenTheServerGoesAwayCompleteWhenItIsBack(@TempDir Path dir) throws Exception {
        server = FakeNbdServer.unix(1 << 20, 3, dir.resolve("nbd.sock"));
        connect(Duration.ofSeconds(20), 1);
        server.silent = true; // requests arrive and are held, unanswered
        List<CompletableFuture<Integer>> writes = new ArrayList<>();
        byte[][] blocks = new byte[16][];
        for (int i = 0; i < 16; i++) {
            blocks[i] = random(4096, 200 + i).toArray(ValueLayout.JAVA_BYTE);
            CompletableFuture<Integer> f = new CompletableFuture<>();
            NbdTransfer.start(nbd.connection(0), Nbd.CMD_WRITE, 0, i * 4096L, 4096,
                    new ByteBuffer[] {ByteBuffer.wrap(blocks[i])}, f::complete);
            writes.add(f);
        }
        Thread.sleep(200);
        server.stop();
        Thread.sleep(500); // the client tries and fails to reconnect meanwhile
        assertThat(writes).noneMatch(CompletableFuture::isDone);
        server.silent = false;
        server.start();
        for (CompletableFuture<Integer> f : writes) {
            assertThat(f.get(10, TimeUnit.SECONDS)).isZero();
        }
        for (int i = 0; i < 16; i++) {
            assertThat(server.bytes(i * 4096, 4096)).isEqualTo(blocks[i]);
        }
        assertThat(nbd.reconnects()).isEqualTo(1);
    }

    @Test
    void randomDropsLoseNothing() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 5);
        server.maxChunks = 3;
        server.reorder = true;
        connect(Duration.ofSeconds(20), 1);
        server.dropChance = 0.05;
        byte[] model = new byte[1 << 20];
        Random random = new Random(17);
        for (int i = 0; i < 200; i++) {
            int block = random.nextInt(256 - 4);
            int length = 4096 * (1 + random.nextInt(4));
            if (random.nextBoolean()) {
                MemorySegment data = random(length, i);
                nbd.write(block * 4096L, data, length);
                MemorySegment.copy(data, ValueLayout.JAVA_BYTE, 0, model, block * 4096, length);
            } else {
                byte[] expected = java.util.Arrays.copyOfRange(model, block * 4096, block * 4096 + length);
                assertThat(read(block * 4096L, length)).isEqualTo(expected);
            }
        }
        assertThat(nbd.reconnects()).isPositive();
    }
}
