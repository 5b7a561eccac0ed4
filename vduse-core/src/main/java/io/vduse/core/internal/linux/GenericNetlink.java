package io.vduse.core.internal.linux;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Generic netlink messages: building a request and reading the kernel's answers, with no I/O
 * (that is {@link NetlinkSocket}'s), so that both are tested without a kernel.
 *
 * <p>A message, in host byte order, every part padded to 4 bytes ({@code NLMSG_ALIGN},
 * {@code NLA_ALIGN}):
 * <pre>
 *  0      4      6      8      12     16     17     18     20
 *  +------+------+------+------+------+------+------+------+-----------------+
 *  | len  | type |flags | seq  | pid  | cmd  | ver  | rsvd | attributes...   |
 *  +------+------+------+------+------+------+------+------+-----------------+
 *   struct nlmsghdr (16)              struct genlmsghdr (4)
 *
 *  attribute: | nla_len u16 | nla_type u16 | value, padded to 4 |
 * </pre>
 * An error or acknowledgement ({@code NLMSG_ERROR}) carries a negative errno (0: done), the header
 * of the request it answers ({@code NETLINK_CAP_ACK}: only the header), and with
 * {@code NLM_F_ACK_TLVS} attributes of which {@code NLMSGERR_ATTR_MSG} is the kernel's text.
 */
public final class GenericNetlink {

    /** {@code NLMSG_ERROR}: an error, or with errno 0 an acknowledgement. */
    public static final int NLMSG_ERROR = 2;
    /** {@code NLMSG_DONE}: the end of a dump. */
    public static final int NLMSG_DONE = 3;
    /** {@code NLM_F_REQUEST}. */
    public static final int NLM_F_REQUEST = 0x1;
    /** {@code NLM_F_ACK}: answer with an acknowledgement even on success. */
    public static final int NLM_F_ACK = 0x4;
    /** {@code NLM_F_CAPPED}: the error message holds only the request's header. */
    public static final int NLM_F_CAPPED = 0x100;
    /** {@code NLM_F_ACK_TLVS}: the error message has extended-ack attributes. */
    public static final int NLM_F_ACK_TLVS = 0x200;
    /** {@code NLMSGERR_ATTR_MSG}: the extended ack's text. */
    public static final int NLMSGERR_ATTR_MSG = 1;

    /** {@code GENL_ID_CTRL}: the family that names the others. */
    public static final int GENL_ID_CTRL = 0x10;
    /** {@code CTRL_CMD_GETFAMILY}. */
    public static final int CTRL_CMD_GETFAMILY = 3;
    /** {@code CTRL_ATTR_FAMILY_ID} (u16). */
    public static final int CTRL_ATTR_FAMILY_ID = 1;
    /** {@code CTRL_ATTR_FAMILY_NAME} (string). */
    public static final int CTRL_ATTR_FAMILY_NAME = 2;

    static final int NLMSGHDR_SIZE = 16;
    static final int GENLMSGHDR_SIZE = 4;
    private static final int NLA_HDRLEN = 4;

    private GenericNetlink() {}

    /** One attribute: its type and its value's bytes. */
    public record Attribute(int type, byte[] value) {
        /** A NUL-terminated string attribute, as {@code nla_put_string} writes and NLA_STRING takes. */
        public static Attribute string(int type, String value) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            byte[] withNul = new byte[bytes.length + 1];
            System.arraycopy(bytes, 0, withNul, 0, bytes.length);
            return new Attribute(type, withNul);
        }

        /** The value as a string, without the terminating NUL (or up to the first NUL). */
        public String asString() {
            int end = 0;
            while (end < value.length && value[end] != 0) {
                end++;
            }
            return new String(value, 0, end, StandardCharsets.UTF_8);
        }

        /** The value as an unsigned 16-bit number in host order. */
        public int asU16() {
            if (value.length < 2) {
                throw new IllegalArgumentException("attribute " + type + " has " + value.length + " bytes, not a u16");
            }
            return Short.toUnsignedInt(ByteBuffer.wrap(value).order(ByteOrder.nativeOrder()).getShort());
        }
    }

    /** A message the kernel sent. */
    public sealed interface Reply {
        /** The sequence number of the request it answers. */
        int seq();
    }

    /**
     * {@code NLMSG_ERROR}: the request's outcome.
     *
     * @param errno 0 for success, else the positive errno
     * @param message the kernel's extended-ack text, or null when it gave none
     */
    public record Ack(int seq, int errno, String message) implements Reply {}

    /** A family's answer: its generic netlink command and attributes (the last of each type). */
    public record Data(int seq, int type, int command, Map<Integer, Attribute> attributes) implements Reply {}

    /** A request of {@code family}, asking for an acknowledgement. */
    public static byte[] request(int family, int seq, int command, int version, List<Attribute> attributes) {
        int length = NLMSGHDR_SIZE + GENLMSGHDR_SIZE;
        for (Attribute a : attributes) {
            length += align(NLA_HDRLEN + a.value().length);
        }
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
        b.putInt(length).putShort((short) family).putShort((short) (NLM_F_REQUEST | NLM_F_ACK)).putInt(seq).putInt(0);
        b.put((byte) command).put((byte) version).putShort((short) 0);
        for (Attribute a : attributes) {
            int attrLength = NLA_HDRLEN + a.value().length;
            if (attrLength > 0xffff) {
                throw new IllegalArgumentException("attribute " + a.type() + " too long: " + a.value().length);
            }
            b.putShort((short) attrLength).putShort((short) a.type()).put(a.value());
            b.position(b.position() + align(attrLength) - attrLength);
        }
        return b.array();
    }

    /** {@code CTRL_CMD_GETFAMILY} of the family named {@code name}. */
    public static byte[] getFamily(int seq, String name) {
        return request(GENL_ID_CTRL, seq, CTRL_CMD_GETFAMILY, 1, List.of(Attribute.string(CTRL_ATTR_FAMILY_NAME, name)));
    }

    /**
     * The messages in one datagram from the kernel.
     *
     * @throws IllegalArgumentException if a length in it is impossible (naming where)
     */
    public static List<Reply> parse(byte[] datagram, int length) {
        ByteBuffer b = ByteBuffer.wrap(datagram, 0, length).order(ByteOrder.nativeOrder());
        List<Reply> replies = new ArrayList<>();
        try {
            while (b.remaining() >= NLMSGHDR_SIZE) {
                int start = b.position();
                int messageLength = b.getInt();
                int type = Short.toUnsignedInt(b.getShort());
                int flags = Short.toUnsignedInt(b.getShort());
                int seq = b.getInt();
                b.getInt(); // the sender's port id: the kernel's is 0
                if (messageLength < NLMSGHDR_SIZE || messageLength > length - start) {
                    throw new IllegalArgumentException("netlink message at byte %d claims %d bytes of %d"
                            .formatted(start, messageLength, length - start));
                }
                int end = start + messageLength;
                if (type == NLMSG_ERROR) {
                    replies.add(ack(b, seq, flags, end));
                } else if (type != NLMSG_DONE) {
                    int command = Byte.toUnsignedInt(b.get());
                    b.get();
                    b.getShort();
                    replies.add(new Data(seq, type, command, attributes(b, end)));
                }
                b.position(Math.min(length, start + align(messageLength)));
            }
        } catch (BufferUnderflowException e) {
            throw new IllegalArgumentException("netlink message cut short in a datagram of " + length + " bytes", e);
        }
        return replies;
    }

    private static Ack ack(ByteBuffer b, int seq, int flags, int end) {
        int error = b.getInt();
        int errno = -error;
        if (errno < 0) {
            throw new IllegalArgumentException("netlink error message with a positive error " + error);
        }
        String message = null;
        if ((flags & NLM_F_ACK_TLVS) != 0) {
            // Past the request it answers: its header alone when capped, else all of it.
            int requestStart = b.position();
            int requestLength = (flags & NLM_F_CAPPED) != 0 ? NLMSGHDR_SIZE : b.getInt(requestStart);
            b.position(requestStart + align(requestLength));
            Attribute text = attributes(b, end).get(NLMSGERR_ATTR_MSG);
            message = text == null ? null : text.asString();
        }
        return new Ack(seq, errno, message);
    }

    private static Map<Integer, Attribute> attributes(ByteBuffer b, int end) {
        Map<Integer, Attribute> attributes = new LinkedHashMap<>();
        while (end - b.position() >= NLA_HDRLEN) {
            int start = b.position();
            int length = Short.toUnsignedInt(b.getShort());
            int type = Short.toUnsignedInt(b.getShort()) & 0x3fff; // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
            if (length < NLA_HDRLEN || start + length > end) {
                throw new IllegalArgumentException("netlink attribute at byte %d claims %d bytes of %d"
                        .formatted(start, length, end - start));
            }
            byte[] value = new byte[length - NLA_HDRLEN];
            b.get(value);
            attributes.put(type, new Attribute(type, value));
            b.position(Math.min(end, start + align(length)));
        }
        return attributes;
    }

    private static int align(int length) {
        return (length + 3) & ~3;
    }
}
