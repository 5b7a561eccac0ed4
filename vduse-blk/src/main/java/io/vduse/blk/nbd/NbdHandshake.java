package io.vduse.blk.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * The client side of the fixed newstyle handshake on a fresh connection: the server's greeting,
 * {@code NBD_OPT_STRUCTURED_REPLY} (asked for every time; the server may refuse), then
 * {@code NBD_OPT_GO} for the export with {@code NBD_INFO_EXPORT} and {@code NBD_INFO_BLOCK_SIZE}
 * requested; a server too old for {@code NBD_OPT_GO} gets {@code NBD_OPT_EXPORT_NAME} instead.
 * Oldstyle servers and servers without fixed newstyle are refused, as the protocol lets a client
 * do: their errors cannot be told from a closed connection.
 */
final class NbdHandshake {

    /** A bound on what the server may send in one option reply, so garbage cannot make us allocate gigabytes. */
    private static final int MAX_OPTION_REPLY = 1 << 20;

    private final ByteChannel channel;
    private final String server;

    private NbdHandshake(ByteChannel channel, String server) {
        this.channel = channel;
        this.server = server;
    }

    /**
     * Negotiates {@code export} on {@code channel} (blocking) and returns what the server said.
     *
     * @param server the server as messages name it
     * @throws NbdException if the server refuses or speaks something else
     * @throws IOException if the connection fails
     */
    static NbdExport negotiate(ByteChannel channel, String server, String export) throws IOException {
        return new NbdHandshake(channel, server).negotiate(export);
    }

    private NbdExport negotiate(String export) throws IOException {
        ByteBuffer greeting = read(18, "the greeting");
        long magic = greeting.getLong();
        long style = greeting.getLong();
        if (magic != Nbd.INIT_MAGIC) {
            throw permanent("not an NBD server (it greeted with 0x" + Long.toHexString(magic) + ", not NBDMAGIC)");
        }
        if (style == Nbd.OLDSTYLE_MAGIC) {
            throw permanent("an oldstyle NBD server, which this client does not speak: "
                    + "run the server with newstyle negotiation (qemu-nbd and nbdkit do by default)");
        }
        if (style != Nbd.IHAVEOPT) {
            throw permanent("an unknown negotiation style 0x" + Long.toHexString(style));
        }
        int flags = Short.toUnsignedInt(greeting.getShort());
        if ((flags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
            throw permanent("the server does not offer fixed newstyle negotiation, which this client needs");
        }
        boolean noZeroes = (flags & Nbd.FLAG_NO_ZEROES) != 0;
        write(ByteBuffer.allocate(4).putInt(Nbd.FLAG_FIXED_NEWSTYLE | (noZeroes ? Nbd.FLAG_NO_ZEROES : 0)).flip());

        boolean structured = askStructuredReplies();
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        if (name.length > 4096) {
            throw permanent("the export name is longer than the 4096 bytes the protocol allows");
        }
        ByteBuffer go = ByteBuffer.allocate(4 + name.length + 2 + 4)
                .putInt(name.length).put(name).putShort((short) 2)
                .putShort((short) Nbd.INFO_EXPORT).putShort((short) Nbd.INFO_BLOCK_SIZE).flip();
        sendOption(Nbd.OPT_GO, go);
        long size = -1;
        int transmission = 0;
        int minimum = 1;
        int preferred = 4096;
        int maximum = 0;
        while (true) {
            Reply reply = readReply(Nbd.OPT_GO);
            if (reply.type == Nbd.REP_ACK) {
                break;
            }
            if (reply.type == Nbd.REP_ERR_UNSUP) {
                // A server from before NBD_OPT_GO: the old option, which ends the handshake itself.
                return exportName(name, noZeroes, structured);
            }
            if ((reply.type & Nbd.REP_FLAG_ERROR) != 0) {
                throw refusal("export '" + export + "'", reply);
            }
            if (reply.type != Nbd.REP_INFO) {
                throw permanent("an unexpected reply type " + reply.type + " to NBD_OPT_GO");
            }
            if (reply.data.remaining() < 2) {
                throw permanent("an NBD_REP_INFO of " + reply.data.remaining() + " bytes");
            }
            int info = Short.toUnsignedInt(reply.data.getShort());
            if (info == Nbd.INFO_EXPORT) {
                if (reply.data.remaining() != 10) {
                    throw permanent("an NBD_INFO_EXPORT of " + (reply.data.remaining() + 2) + " bytes, not 12");
                }
                size = reply.data.getLong();
                transmission = Short.toUnsignedInt(reply.data.getShort());
            } else if (info == Nbd.INFO_BLOCK_SIZE) {
                if (reply.data.remaining() != 12) {
                    throw permanent("an NBD_INFO_BLOCK_SIZE of " + (reply.data.remaining() + 2) + " bytes, not 14");
                }
                minimum = reply.data.getInt();
                preferred = reply.data.getInt();
                maximum = reply.data.getInt();
            }
            // Other information (a name, a description) is not needed and is skipped.
        }
        if (size < 0) {
            throw permanent("the server finished NBD_OPT_GO without NBD_INFO_EXPORT (the export's size and flags)");
        }
        return export(size, transmission, minimum, preferred, maximum, structured);
    }

    private boolean askStructuredReplies() throws IOException {
        sendOption(Nbd.OPT_STRUCTURED_REPLY, ByteBuffer.allocate(0));
        Reply reply = readReply(Nbd.OPT_STRUCTURED_REPLY);
        if (reply.type == Nbd.REP_ACK) {
            return true;
        }
        if ((reply.type & Nbd.REP_FLAG_ERROR) != 0) {
            return false; // simple replies then, which every server speaks
        }
        throw permanent("an unexpected reply type " + reply.type + " to NBD_OPT_STRUCTURED_REPLY");
    }

    private NbdExport exportName(byte[] name, boolean noZeroes, boolean structured) throws IOException {
        sendOption(Nbd.OPT_EXPORT_NAME, ByteBuffer.wrap(name));
        // A server refuses an unknown name here only by closing the connection.
        ByteBuffer answer;
        try {
            answer = read(10 + (noZeroes ? 0 : 124), "the answer to NBD_OPT_EXPORT_NAME");
        } catch (EOFException e) {
            throw permanent("the server closed the connection at NBD_OPT_EXPORT_NAME: no such export?");
        }
        long size = answer.getLong();
        int transmission = Short.toUnsignedInt(answer.getShort());
        return export(size, transmission, 1, 4096, 0, structured);
    }

    private NbdExport export(long size, int transmission, int minimum, int preferred, int maximum,
            boolean structured) throws NbdException {
        if ((transmission & Nbd.TFLAG_HAS_FLAGS) == 0) {
            transmission = 0; // the flags mean nothing without NBD_FLAG_HAS_FLAGS
        }
        if (size < 0) {
            throw permanent("an export size above 2^63 bytes");
        }
        if (minimum < 1 || Integer.bitCount(minimum) != 1 || minimum > 65536) {
            throw permanent("a minimum block size of " + Integer.toUnsignedString(minimum)
                    + ", not a power of two up to 64 KiB");
        }
        if (preferred < minimum || Integer.bitCount(preferred) != 1) {
            preferred = Math.max(4096, minimum); // nonsense preferred size: only advice, so ignored
        }
        if (maximum == 0 || maximum == -1) {
            maximum = NbdExport.DEFAULT_MAXIMUM_PAYLOAD; // none stated (0), or "no limit" (0xffffffff)
        } else if (maximum < minimum) {
            throw permanent("a maximum payload of " + Integer.toUnsignedString(maximum)
                    + " bytes, below the minimum block " + minimum);
        }
        maximum = Math.min(maximum, NbdExport.DEFAULT_MAXIMUM_PAYLOAD) / minimum * minimum;
        return new NbdExport(size, transmission, minimum, preferred, maximum, structured);
    }

    private void sendOption(int option, ByteBuffer data) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(option).putInt(data.remaining()).flip();
        write(header);
        write(data);
    }

    private record Reply(int type, ByteBuffer data) {}

    private Reply readReply(int option) throws IOException {
        ByteBuffer header = read(20, "an option reply");
        long magic = header.getLong();
        int replyOption = header.getInt();
        int type = header.getInt();
        int length = header.getInt();
        if (magic != Nbd.OPTION_REPLY_MAGIC) {
            throw permanent("an option reply with magic 0x" + Long.toHexString(magic));
        }
        if (replyOption != option) {
            throw permanent("a reply to option " + replyOption + " when " + option + " was asked");
        }
        if (length < 0 || length > MAX_OPTION_REPLY) {
            throw permanent("an option reply of " + Integer.toUnsignedString(length) + " bytes");
        }
        return new Reply(type, read(length, "an option reply's data"));
    }

    private NbdException refusal(String what, Reply reply) {
        String message = "";
        if (reply.data.hasRemaining()) {
            byte[] text = new byte[Math.min(reply.data.remaining(), 200)];
            reply.data.get(text);
            message = ": " + new String(text, StandardCharsets.UTF_8).strip();
        }
        // A shutting-down server may come back; every other refusal stays the same.
        return new NbdException(server + " refused " + what + ": " + Nbd.replyErrorText(reply.type) + message,
                reply.type != Nbd.REP_ERR_SHUTDOWN);
    }

    private NbdException permanent(String why) {
        return new NbdException(server + ": " + why, true);
    }

    private ByteBuffer read(int length, String what) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new EOFException(server + " closed the connection during the handshake, in " + what);
            }
        }
        return buffer.flip();
    }

    private void write(ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
