package io.vduse.blk.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The handshake against the fake server: what the server says reaches the export description,
 * and every server this client cannot or must not talk to is refused with a message that says why.
 */
class NbdHandshakeTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private FakeNbdServer server;

    @AfterEach
    void stop() throws Exception {
        server.close();
    }

    private NbdBackend connect(int queues) throws Exception {
        return NbdBackend.connect(NbdUri.parse(server.uri()), TIMEOUT, queues);
    }

    @Test
    void goGivesSizeFlagsBlockSizesAndStructuredReplies() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 1);
        server.blockSizes = new int[] {512, 4096, 65536};
        try (NbdBackend nbd = connect(3)) {
            NbdExport export = nbd.export();
            assertThat(export.size()).isEqualTo(1 << 20);
            assertThat(export.structuredReplies()).isTrue();
            assertThat(export.minimumBlock()).isEqualTo(512);
            assertThat(export.preferredBlock()).isEqualTo(4096);
            assertThat(export.maximumPayload()).isEqualTo(65536);
            assertThat(nbd.connectionCount()).isEqualTo(3);
            assertThat(nbd.describe()).isEqualTo("nbd 127.0.0.1:" + server.port() + " export 'disk' (multi-conn, "
                    + "structured replies, trim, write-zeroes, flush, fua; 3 connections)");
        }
    }

    @Test
    void withoutMultiConnOneConnectionIsShared() throws Exception {
        server = FakeNbdServer.tcp(1 << 20, 1);
        server.multiConn = false;
        server.structured = false;
        server.readOnly = true;
        try (NbdBackend nbd = connect(4)) {
            assertThat(nbd.connectionCount()).isEqualTo(1);
            assertThat(nbd.export().structuredReplies()).isFalse();
            assertThat(nbd.export().readOnly()).isTrue();
            assertThat(nbd.export().maximumPayload()).isEqualTo(32 << 20);
            assertThat(nbd.connection(3)).isSameAs(nbd.connection(0));
        }
    }

    @Test
    void aServerWithoutGoIsAskedWithExportName() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.goSupported = false;
        try (NbdBackend nbd = connect(1)) {
            assertThat(nbd.export().size()).isEqualTo(1 << 16);
        }
    }

    @Test
    void oldstyleServerIsRefusedClearly() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.greeting = FakeNbdServer.Greeting.OLDSTYLE;
        assertThatThrownBy(() -> connect(1)).isInstanceOf(NbdException.class).hasMessageContaining("oldstyle");
    }

    @Test
    void serverWithoutFixedNewstyleIsRefused() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.greeting = FakeNbdServer.Greeting.NOT_FIXED;
        assertThatThrownBy(() -> connect(1)).isInstanceOf(NbdException.class)
                .hasMessageContaining("does not offer fixed newstyle");
    }

    @Test
    void notAnNbdServer() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.greeting = FakeNbdServer.Greeting.NOT_NBD;
        assertThatThrownBy(() -> connect(1)).isInstanceOf(NbdException.class).hasMessageContaining("not an NBD server");
    }

    @Test
    void unknownExportNamesTheExportAndTheServersWords() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.exportName = "other";
        assertThatThrownBy(() -> NbdBackend.connect(NbdUri.parse("nbd://127.0.0.1:" + server.port() + "/disk"),
                TIMEOUT, 1))
                .isInstanceOf(NbdException.class)
                .hasMessageContaining("refused export 'disk'")
                .hasMessageContaining("NBD_REP_ERR_UNKNOWN: no such export")
                .hasMessageContaining("no export 'disk'");
    }

    @Test
    void unknownExportWithExportNameIsAClosedConnection() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.goSupported = false;
        server.exportName = "other";
        assertThatThrownBy(() -> NbdBackend.connect(NbdUri.parse("nbd://127.0.0.1:" + server.port() + "/disk"),
                TIMEOUT, 1)).isInstanceOf(NbdException.class).hasMessageContaining("no such export?");
    }

    /* qemu-nbd drops a handshake that takes more than 10 s, as a cold JVM's may under emulation. */
    @Test
    void aHandshakeCutOffIsTriedAgainWithinTheTimeout() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.handshakesToDrop.set(2);
        try (NbdBackend backend = connect(1)) {
            assertThat(backend.size()).isEqualTo(1 << 16);
        }
        assertThat(server.connectionsAccepted()).isEqualTo(3);
    }

    @Test
    void aServerThatKeepsCuttingTheHandshakeOffIsGivenUpOnAtTheTimeout() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.handshakesToDrop.set(Integer.MAX_VALUE);
        long start = System.nanoTime();
        assertThatThrownBy(() -> NbdBackend.connect(NbdUri.parse(server.uri()), Duration.ofMillis(600), 1))
                .isNotInstanceOf(NbdException.class)
                .hasMessageContaining(server.uri().replace("nbd://", "").replace("/disk", ""))
                .hasMessageContaining("the handshake was cut off");
        assertThat(server.connectionsAccepted()).isGreaterThan(1);
        // Bounded by the timeout (a generous bound: this is about not hanging, not about speed).
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void errorRepliesAreNamed() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.goError = Nbd.REP_ERR_TLS_REQD;
        assertThatThrownBy(() -> connect(1)).hasMessageContaining("requires TLS");
        server.goError = Nbd.REP_ERR_POLICY;
        assertThatThrownBy(() -> connect(1)).hasMessageContaining("NBD_REP_ERR_POLICY").hasMessageContaining("not today");
        server.goError = Nbd.REP_ERR_SHUTDOWN;
        assertThatThrownBy(() -> connect(1)).hasMessageContaining("shutting down");
    }

    @Test
    void badBlockSizesAreRefused() throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        server.blockSizes = new int[] {3000, 4096, 65536};
        assertThatThrownBy(() -> connect(1)).hasMessageContaining("minimum block size of 3000");
        server.blockSizes = new int[] {4096, 4096, 1024};
        assertThatThrownBy(() -> connect(1)).hasMessageContaining("below the minimum block");
    }

    @Test
    void nobodyListening(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        server = FakeNbdServer.tcp(1 << 16, 1);
        String uri = "nbd+unix:///disk?socket=" + dir.resolve("absent.sock");
        assertThatThrownBy(() -> NbdBackend.connect(NbdUri.parse(uri), TIMEOUT, 1))
                .hasMessageContaining("cannot connect to " + dir.resolve("absent.sock"));
    }
}
