package io.vduse.blk.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.io.ByteArrayInputStream;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A reply's data lands where it belongs in a request's pieces, and a reply cut short leaves the
 * pieces whole for the reply to the request sent again.
 */
class PiecesTest {

    private static ReadableByteChannel bytes(byte[] data) {
        return Channels.newChannel(new ByteArrayInputStream(data));
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static byte[] contents(ByteBuffer piece) {
        byte[] out = new byte[piece.capacity()];
        piece.duplicate().clear().get(out);
        return out;
    }

    @Test
    void aReplyCutShortLeavesThePiecesWholeForTheNextReply() throws Exception {
        ByteBuffer[] pieces = {ByteBuffer.allocateDirect(100), ByteBuffer.allocateDirect(100)};
        for (ByteBuffer p : pieces) {
            p.put(filled(100, 0x55)).clear();
        }
        // The connection drops 30 bytes into a chunk of 120 starting at byte 50.
        assertThatThrownBy(() -> Pieces.receive(bytes(filled(30, 0x11)), pieces, 50, 120))
                .isInstanceOf(EOFException.class);
        // The request's next reply: a hole at its start, then data for the rest.
        Pieces.zero(pieces, 0, 10);
        Pieces.receive(bytes(filled(190, 0x22)), pieces, 10, 190);
        byte[] first = filled(100, 0x22);
        Arrays.fill(first, 0, 10, (byte) 0);
        assertThat(contents(pieces[0])).isEqualTo(first);
        assertThat(contents(pieces[1])).isEqualTo(filled(100, 0x22));
        for (ByteBuffer p : pieces) {
            assertThat(p.position()).isZero();
            assertThat(p.limit()).isEqualTo(p.capacity());
        }
    }

    @Test
    void dataAndHolesLandAtTheirOffsetsAcrossPieces() throws Exception {
        ByteBuffer[] pieces = {ByteBuffer.allocate(10), ByteBuffer.allocate(20), ByteBuffer.allocate(5)};
        Pieces.receive(bytes(filled(15, 7)), pieces, 5, 15);
        Pieces.zero(pieces, 20, 15);
        assertThat(contents(pieces[0])).isEqualTo(new byte[] {0, 0, 0, 0, 0, 7, 7, 7, 7, 7});
        byte[] second = filled(20, 0);
        Arrays.fill(second, 0, 10, (byte) 7);
        assertThat(contents(pieces[1])).isEqualTo(second);
        assertThat(contents(pieces[2])).isEqualTo(filled(5, 0));
    }
}
