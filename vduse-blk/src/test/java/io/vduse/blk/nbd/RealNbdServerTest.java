package io.vduse.blk.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client, without a device, against real servers on this host: {@code nbdkit memory} and
 * {@code qemu-nbd} over TCP and a Unix socket (handshake, data round trips, flush, trim,
 * write-zeroes, many requests in flight, structured replies), and {@code nbdkit}'s error filter for
 * an injected EIO. Skipped, saying so, where a server is not installed (Debian: nbdkit,
 * qemu-utils; {@code vduse-it/guest/install-deps} installs both for CI).
 */
class RealNbdServerTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    @TempDir
    Path dir;
    private Process server;
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.destroy();
            if (!server.waitFor(5, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
        arena.close();
    }

    private static void assumeInstalled(String binary) {
        boolean found = false;
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/usr/sbin").split(":")) {
            found |= Files.isExecutable(Path.of(d, binary));
        }
        Assumptions.assumeTrue(found, binary + " is not installed (Debian: "
                + (binary.equals("qemu-nbd") ? "qemu-utils" : "nbdkit") + ")");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Starts {@code command} and waits until {@code uri} takes a connection. */
    private NbdBackend start(String uri, int queues, String... command) throws Exception {
        server = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("server.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                return NbdBackend.connect(NbdUri.parse(uri), TIMEOUT, queues);
            } catch (IOException e) {
                if (!server.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("the server did not come up: " + e.getMessage() + "; its log: "
                            + Files.readString(dir.resolve("server.log")), e);
                }
                Thread.sleep(50);
            }
        }
    }

    private MemorySegment random(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return arena.allocate(length).copyFrom(MemorySegment.ofArray(bytes));
    }

    private byte[] read(NbdBackend nbd, long offset, int length) throws IOException {
        MemorySegment buffer = arena.allocate(length);
        nbd.read(offset, buffer, length);
        return buffer.toArray(ValueLayout.JAVA_BYTE);
    }

    /** Round trips of every command, and 64 requests in flight at once, on each connection. */
    private void exercise(NbdBackend nbd) throws Exception {
        MemorySegment data = random(1 << 20, 5);
        nbd.write(1 << 20, data, 1 << 20);
        assertThat(read(nbd, 1 << 20, 1 << 20)).isEqualTo(data.toArray(ValueLayout.JAVA_BYTE));
        nbd.flush();
        nbd.writeZeroes(1 << 20, 65536, false);
        nbd.discard((1 << 20) + 65536, 65536);
        byte[] head = read(nbd, 1 << 20, 65536);
        assertThat(head).isEqualTo(new byte[65536]);
        // Never written: holes, which structured replies may send as such; zeros all the same.
        assertThat(read(nbd, 32L << 20, 1 << 20)).isEqualTo(new byte[1 << 20]);
        for (int c = 0; c < nbd.connectionCount(); c++) {
            List<CompletableFuture<Integer>> writes = new ArrayList<>();
            ByteBuffer[] blocks = new ByteBuffer[64];
            for (int i = 0; i < 64; i++) {
                blocks[i] = random(4096, 1000L * c + i).asByteBuffer();
                CompletableFuture<Integer> f = new CompletableFuture<>();
                NbdTransfer.start(nbd.connection(c), Nbd.CMD_WRITE, 0, (4L << 20) + (64L * c + i) * 4096, 4096,
                        new ByteBuffer[] {blocks[i]}, f::complete);
                writes.add(f);
            }
            for (CompletableFuture<Integer> f : writes) {
                assertThat(f.get(10, TimeUnit.SECONDS)).isZero();
            }
            for (int i = 0; i < 64; i++) {
                byte[] expected = new byte[4096];
                blocks[i].get(0, expected);
                assertThat(read(nbd, (4L << 20) + (64L * c + i) * 4096, 4096)).isEqualTo(expected);
            }
        }
    }

    @Test
    void nbdkitMemoryOverTcp() throws Exception {
        assumeInstalled("nbdkit");
        int port = freePort();
        try (NbdBackend nbd = start("nbd://127.0.0.1:" + port, 2, "nbdkit", "-f", "-i", "127.0.0.1", "-p",
                String.valueOf(port), "memory", "64M")) {
            assertThat(nbd.export().size()).isEqualTo(64L << 20);
            assertThat(nbd.export().structuredReplies()).isTrue();
            assertThat(nbd.export().canMultiConn()).isTrue();
            assertThat(nbd.connectionCount()).isEqualTo(2);
            assertThat(nbd.export().canTrim()).isTrue();
            assertThat(nbd.export().canWriteZeroes()).isTrue();
            exercise(nbd);
        }
    }

    @Test
    void nbdkitMemoryOverAUnixSocket() throws Exception {
        assumeInstalled("nbdkit");
        Path socket = dir.resolve("nbdkit.sock");
        try (NbdBackend nbd = start("nbd+unix:///?socket=" + socket, 1, "nbdkit", "-f", "-U", socket.toString(),
                "memory", "64M")) {
            exercise(nbd);
        }
    }

    @Test
    void nbdkitErrorFilterGivesEio() throws Exception {
        assumeInstalled("nbdkit");
        Path socket = dir.resolve("nbdkit.sock");
        try (NbdBackend nbd = start("nbd+unix:///?socket=" + socket, 1, "nbdkit", "-f", "-U", socket.toString(),
                "--filter=error", "memory", "64M", "error-pread=EIO", "error-pread-rate=100%")) {
            assertThatThrownBy(() -> read(nbd, 0, 4096)).hasMessageContaining("EIO (5)");
            nbd.write(0, random(4096, 1), 4096); // writes are not failed: the connection serves on
            assertThat(nbd.reconnects()).isZero();
        }
    }

    /** A 64 MiB raw image for qemu-nbd. */
    private Path image() throws IOException {
        Path image = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        return image;
    }

    @Test
    void qemuNbdOverTcp() throws Exception {
        assumeInstalled("qemu-nbd");
        Path image = image();
        int port = freePort();
        try (NbdBackend nbd = start("nbd://127.0.0.1:" + port + "/disk", 2, "qemu-nbd", "-f", "raw", "-x", "disk",
                "-b", "127.0.0.1", "-p", String.valueOf(port), "--persistent", "--shared=4", image.toString())) {
            assertThat(nbd.export().size()).isEqualTo(64L << 20);
            assertThat(nbd.export().structuredReplies()).isTrue();
            exercise(nbd);
        }
    }

    @Test
    void qemuNbdOverAUnixSocket() throws Exception {
        assumeInstalled("qemu-nbd");
        Path image = image();
        Path socket = dir.resolve("qemu-nbd.sock");
        try (NbdBackend nbd = start("nbd+unix:///disk?socket=" + socket, 1, "qemu-nbd", "-f", "raw", "-x", "disk",
                "-k", socket.toString(), "--persistent", "--shared=4", image.toString())) {
            exercise(nbd);
            nbd.flush();
        }
        byte[] onDisk = new byte[4096];
        try (var f = new java.io.RandomAccessFile(image.toFile(), "r")) {
            f.seek(1 << 20);
            f.readFully(onDisk);
        }
        assertThat(onDisk).isEqualTo(new byte[4096]); // written, then zeroed through the server
    }
}
