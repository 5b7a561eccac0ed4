package io.vduse.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * Each message type decodes from 152 bytes laid out as {@code vduse_dev_msg_sync} in the kernel
 * writes them. The bytes are built here with literal offsets from the C header, not with this
 * module's layouts, so a wrong offset in a layout fails these tests.
 */
class MessageDecodingTest {

    private static ByteBuffer message(int type, int requestId) {
        ByteBuffer b = ByteBuffer.allocate(152).order(ByteOrder.nativeOrder());
        b.putInt(0, type);
        b.putInt(4, requestId);
        // reserved[4] at 8..24 are whatever the kernel left: make them noise.
        b.putInt(8, 0xdeadbeef).putInt(12, -1).putInt(16, 7).putInt(20, 9);
        return b;
    }

    private static MemorySegment segment(ByteBuffer b) {
        return MemorySegment.ofArray(b.array());
    }

    @Test
    void getVqState() {
        ByteBuffer b = message(0, 41);
        b.putInt(24, 3);
        assertThat(VduseRequest.decode(segment(b), 0)).isEqualTo(new VduseRequest.GetVqState(41, 3));
    }

    @Test
    void setStatus() {
        ByteBuffer b = message(1, 42);
        b.put(24, (byte) 0x8f);
        assertThat(VduseRequest.decode(segment(b), 0)).isEqualTo(new VduseRequest.SetStatus(42, 0x8f));
    }

    @Test
    void updateIotlbOfTheWholeSpace() {
        ByteBuffer b = message(2, 43);
        b.putLong(24, 0);
        b.putLong(32, -1L);
        b.putInt(40, 5);
        assertThat(VduseRequest.decode(segment(b), 0)).isEqualTo(new VduseRequest.UpdateIotlb(43, 0, -1L, 0));
        assertThat(VduseRequest.decode(segment(b), 1)).isEqualTo(new VduseRequest.UpdateIotlb(43, 0, -1L, 5));
    }

    @Test
    void setVqGroupAsid() {
        ByteBuffer b = message(3, 44);
        b.putInt(24, 1);
        b.putInt(28, 2);
        assertThat(VduseRequest.decode(segment(b), 1)).isEqualTo(new VduseRequest.SetVqGroupAsid(44, 1, 2));
    }

    @Test
    void setVqReadyTakesAnyNonZeroWordAsReady() {
        ByteBuffer b = message(4, 46);
        b.putInt(24, 3);
        b.putInt(28, 0x100);
        assertThat(VduseRequest.decode(segment(b), 0)).isEqualTo(new VduseRequest.SetVqReady(46, 3, true));
        b.putInt(28, 0);
        assertThat(VduseRequest.decode(segment(b), 1)).isEqualTo(new VduseRequest.SetVqReady(46, 3, false));
    }

    @Test
    void suspendHasNoPayload() {
        ByteBuffer b = message(5, 47);
        b.putInt(24, 0x5555);
        assertThat(VduseRequest.decode(segment(b), 1)).isEqualTo(new VduseRequest.Suspend(47));
    }

    @Test
    void unknownTypeDecodesToSomethingToAnswerWithFailed() {
        ByteBuffer b = message(0x7fff_0001, 45);
        VduseRequest request = VduseRequest.decode(segment(b), 0);
        assertThat(request).isEqualTo(new VduseRequest.Unknown(45, 0x7fff_0001));

        MemorySegment out = MemorySegment.ofArray(new byte[152]);
        VduseResponse.failed(request.requestId()).writeTo(out);
        ByteBuffer r = out.asByteBuffer().order(ByteOrder.nativeOrder());
        assertThat(r.getInt(0)).isEqualTo(45);
        assertThat(r.getInt(4)).isEqualTo(Vduse.REQ_RESULT_FAILED);
    }

    @Test
    void aBufferShorterThanAMessageIsRefused() {
        assertThatThrownBy(() -> VduseRequest.decode(MemorySegment.ofArray(new byte[151]), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("152 bytes");
    }

    @Test
    void vqStateResponseIsLaidOutAsTheKernelReadsIt() {
        MemorySegment out = MemorySegment.ofArray(new byte[152]);
        out.fill((byte) 0x77);
        VduseResponse.vqState(46, 2, new VqState.Packed(1, 0x1234, 0, 0x4321)).writeTo(out);
        ByteBuffer r = out.asByteBuffer().order(ByteOrder.nativeOrder());
        assertThat(r.getInt(0)).isEqualTo(46);
        assertThat(r.getInt(4)).isEqualTo(Vduse.REQ_RESULT_OK);
        for (int reserved = 8; reserved < 24; reserved += 4) {
            assertThat(r.getInt(reserved)).as("reserved word at %d", reserved).isZero();
        }
        assertThat(r.getInt(24)).isEqualTo(2);
        assertThat(r.getShort(28)).isEqualTo((short) 1);
        assertThat(r.getShort(30)).isEqualTo((short) 0x1234);
        assertThat(r.getShort(32)).isEqualTo((short) 0);
        assertThat(r.getShort(34)).isEqualTo((short) 0x4321);
        assertThat(r.get(151)).isZero();

        VduseResponse.vqState(47, 0, new VqState.Split(0xfffe)).writeTo(out);
        assertThat(Short.toUnsignedInt(r.getShort(28))).isEqualTo(0xfffe);
    }
}
