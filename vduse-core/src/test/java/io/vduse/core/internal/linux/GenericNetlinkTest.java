package io.vduse.core.internal.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.GenericNetlink.Ack;
import io.vduse.core.internal.linux.GenericNetlink.Attribute;
import io.vduse.core.internal.linux.GenericNetlink.Data;
import io.vduse.core.internal.linux.GenericNetlink.Reply;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Generic netlink messages byte for byte (what iproute2's {@code vdpa dev add} sends, what the
 * kernel answers), and one real exchange with the kernel's controller family, which any user may
 * ask.
 */
class GenericNetlinkTest {

    @Test
    void aDevNewRequestIsWhatVdpaDevAddSends() {
        byte[] request = GenericNetlink.request(0x1c, 7, 3, 1,
                List.of(Attribute.string(2, "vduse"), Attribute.string(4, "blk0")));
        // nlmsghdr: len 44, type 0x1c, flags REQUEST|ACK, seq 7, pid 0; genlmsghdr: cmd 3, version 1;
        // "vduse\0" (6 bytes, padded to 8) as attribute 2; "blk0\0" (5, padded to 8) as attribute 4.
        String expected = "2c000000" + "1c00" + "0500" + "07000000" + "00000000"
                + "03" + "01" + "0000"
                + "0a00" + "0200" + "7664757365" + "00" + "0000"
                + "0900" + "0400" + "626c6b30" + "00" + "000000";
        assertThat(ByteOrder.nativeOrder()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(HexFormat.of().formatHex(request)).isEqualTo(expected);
    }

    @Test
    void anAckWithTheKernelsTextIsRead() {
        // NLMSG_ERROR, flags CAPPED|ACK_TLVS: error -19, the request's header, then NLMSGERR_ATTR_MSG.
        String text = "Fail to find the specified management device";
        byte[] textBytes = Attribute.string(1, text).value();
        int attr = 4 + textBytes.length;
        int length = 16 + 4 + 16 + ((attr + 3) & ~3);
        ByteBuffer b = ByteBuffer.allocate(length + 8).order(ByteOrder.nativeOrder());
        b.putInt(length).putShort((short) 2).putShort((short) 0x300).putInt(9).putInt(0);
        b.putInt(-19);
        b.putInt(40).putShort((short) 0x1c).putShort((short) 5).putInt(9).putInt(1234);
        b.putShort((short) attr).putShort((short) 1).put(textBytes);

        List<Reply> replies = GenericNetlink.parse(b.array(), length);

        assertThat(replies).containsExactly(new Ack(9, Errno.ENODEV, text));
    }

    @Test
    void aFamilysAnswerAndItsAckAreReadFromOneDatagram() {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.nativeOrder());
        // CTRL_CMD_NEWFAMILY (1) with CTRL_ATTR_FAMILY_ID 0x1c (u16, padded) and FAMILY_NAME "vdpa".
        b.putInt(16 + 4 + 8 + 12).putShort((short) 0x10).putShort((short) 0).putInt(3).putInt(0);
        b.put((byte) 1).put((byte) 2).putShort((short) 0);
        b.putShort((short) 6).putShort((short) 1).putShort((short) 0x1c).putShort((short) 0);
        b.putShort((short) 9).putShort((short) 2).put("vdpa\0".getBytes()).put(new byte[3]);
        int first = b.position();
        b.putInt(20).putShort((short) 2).putShort((short) 0x100).putInt(3).putInt(0).putInt(0);

        List<Reply> replies = GenericNetlink.parse(b.array(), first + 20);

        assertThat(replies).hasSize(2);
        Data data = (Data) replies.get(0);
        assertThat(data.command()).isEqualTo(1);
        assertThat(data.attributes().get(GenericNetlink.CTRL_ATTR_FAMILY_ID).asU16()).isEqualTo(0x1c);
        assertThat(data.attributes().get(GenericNetlink.CTRL_ATTR_FAMILY_NAME).asString()).isEqualTo("vdpa");
        assertThat(replies.get(1)).isEqualTo(new Ack(3, 0, null));
    }

    @Test
    void impossibleLengthsAreRefusedNamingWhere() {
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.nativeOrder());
        b.putInt(200).putShort((short) 0x1c).putShort((short) 0).putInt(1).putInt(0);
        assertThatThrownBy(() -> GenericNetlink.parse(b.array(), 24))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("claims 200 bytes of 24");

        ByteBuffer attr = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder());
        attr.putInt(28).putShort((short) 0x1c).putShort((short) 0).putInt(1).putInt(0);
        attr.putInt(0).putShort((short) 60).putShort((short) 4).putInt(0);
        assertThatThrownBy(() -> GenericNetlink.parse(attr.array(), 28))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("attribute at byte 20 claims 60");

        ByteBuffer shortHeader = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        shortHeader.putInt(8);
        assertThatThrownBy(() -> GenericNetlink.parse(shortHeader.array(), 16))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /** The controller names itself to anyone: a real round trip through the socket, no root needed. */
    @Test
    void theKernelsControllerAnswersAGetFamilyOfItselfAndRefusesAnUnknownOne() throws ErrnoException {
        try (NetlinkSocket socket = new NetlinkSocket(5_000)) {
            int seq = socket.nextSeq();
            List<Reply> replies = socket.transact(GenericNetlink.getFamily(seq, "nlctrl"), seq, "GETFAMILY nlctrl");
            assertThat(replies.getLast()).isEqualTo(new Ack(seq, 0, null));
            Data data = (Data) replies.getFirst();
            assertThat(data.attributes().get(GenericNetlink.CTRL_ATTR_FAMILY_ID).asU16())
                    .isEqualTo(GenericNetlink.GENL_ID_CTRL);

            int unknown = socket.nextSeq();
            List<Reply> refused = socket.transact(GenericNetlink.getFamily(unknown, "nosuchfamily"), unknown,
                    "GETFAMILY nosuchfamily");
            assertThat(refused).hasSize(1);
            assertThat(((Ack) refused.getFirst()).errno()).isEqualTo(Errno.ENOENT);
        }
    }
}
