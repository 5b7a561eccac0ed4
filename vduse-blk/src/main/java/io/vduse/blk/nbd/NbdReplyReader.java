package io.vduse.blk.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Map;

/**
 * Reads replies from one connection and applies them to the commands they answer: simple replies
 * (with a read's data after them) and structured reply chunks ({@code OFFSET_DATA},
 * {@code OFFSET_HOLE}, {@code ERROR}, {@code ERROR_OFFSET}, {@code NONE}, the {@code DONE} flag).
 *
 * <p>Nothing the server says is trusted: a bad magic, a reply to a cookie not in flight, a chunk
 * a command cannot have (data for a write), a length other than asked for, a chunk outside the
 * request's range, a read whose chunks do not cover it exactly: each throws
 * {@link NbdException} before a byte of it reaches the driver's memory, and the connection is
 * dropped by its owner. Commands the reply belonged to stay in the table, to be sent again.
 * Replies are read through a {@link ReadAhead}, so that a burst of them costs a system call, not
 * several per reply. Used by the connection's reader thread alone.
 */
final class NbdReplyReader {

    /** The largest chunk that carries no read data (an error and its message). */
    private static final int MAX_CONTROL_CHUNK = 4096 + 16;

    private final ReadableByteChannel channel;
    private final Map<Long, NbdCommand> inFlight;
    private final boolean structured;
    private final ByteBuffer header = ByteBuffer.allocate(Nbd.STRUCTURED_REPLY_SIZE);
    private final ByteBuffer control = ByteBuffer.allocate(MAX_CONTROL_CHUNK);
    private final ByteBuffer scratch = ByteBuffer.allocateDirect(64 << 10);

    /** Reads from {@code channel} through a {@link ReadAhead} of its own. */
    NbdReplyReader(ReadableByteChannel channel, Map<Long, NbdCommand> inFlight, boolean structured) {
        this.channel = new ReadAhead(channel, ReadAhead.SIZE);
        this.inFlight = inFlight;
        this.structured = structured;
    }

    /** Reads one reply, or one chunk of a structured reply, and applies it. */
    void readOne() throws IOException {
        header.clear().limit(4);
        Pieces.readFully(channel, header);
        int magic = header.getInt(0);
        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
            header.limit(Nbd.SIMPLE_REPLY_SIZE);
            Pieces.readFully(channel, header);
            simple(header.getInt(4), header.getLong(8));
        } else if (magic == Nbd.STRUCTURED_REPLY_MAGIC && structured) {
            header.limit(Nbd.STRUCTURED_REPLY_SIZE);
            Pieces.readFully(channel, header);
            chunk(Short.toUnsignedInt(header.getShort(4)), Short.toUnsignedInt(header.getShort(6)),
                    header.getLong(8), Integer.toUnsignedLong(header.getInt(16)));
        } else {
            throw garbage("a reply with magic 0x" + Integer.toHexString(magic)
                    + (magic == Nbd.STRUCTURED_REPLY_MAGIC ? " (structured replies were not negotiated)" : ""));
        }
    }

    private NbdCommand lookUp(long cookie) throws NbdException {
        NbdCommand command = inFlight.get(cookie);
        if (command == null) {
            throw garbage("a reply to cookie " + cookie + ", which is not in flight");
        }
        return command;
    }

    private void simple(int error, long cookie) throws IOException {
        NbdCommand command = lookUp(cookie);
        if (command.isRead() && error == 0) {
            if (command.claim()) {
                try {
                    Pieces.receive(channel, command.data, 0, command.length);
                } catch (IOException | RuntimeException e) {
                    command.release();
                    throw e;
                }
                inFlight.remove(cookie);
                command.finishClaimed(0);
                return;
            }
            // Answered already (timed out): its memory is the driver's again, the data goes nowhere.
            Pieces.discard(channel, scratch, command.length);
        }
        inFlight.remove(cookie);
        command.answer(error);
    }

    private void chunk(int flags, int type, long cookie, long length) throws IOException {
        NbdCommand command = lookUp(cookie);
        boolean last = (flags & Nbd.REPLY_FLAG_DONE) != 0;
        if (type == Nbd.CHUNK_OFFSET_DATA) {
            if (!command.isRead()) {
                throw garbage("an OFFSET_DATA chunk for " + command);
            }
            if (length < 8 || length - 8 > command.length) {
                throw garbage("an OFFSET_DATA chunk of " + length + " bytes for " + command);
            }
            header.clear().limit(8);
            Pieces.readFully(channel, header);
            long offset = header.getLong(0);
            long dataLength = length - 8;
            checkRange(command, offset, dataLength, "OFFSET_DATA");
            if (command.claim()) {
                try {
                    Pieces.receive(channel, command.data, offset - command.offset, dataLength);
                } finally {
                    command.release();
                }
            } else {
                Pieces.discard(channel, scratch, dataLength); // answered already (timed out)
            }
            command.covered += dataLength;
        } else if (type == Nbd.CHUNK_OFFSET_HOLE) {
            if (!command.isRead() || length != 12) {
                throw garbage("an OFFSET_HOLE chunk of " + length + " bytes for " + command);
            }
            ByteBuffer body = readControl(length);
            long offset = body.getLong(0);
            long holeLength = Integer.toUnsignedLong(body.getInt(8));
            checkRange(command, offset, holeLength, "OFFSET_HOLE");
            if (holeLength == 0) {
                throw garbage("an empty OFFSET_HOLE chunk for " + command);
            }
            if (command.claim()) {
                try {
                    Pieces.zero(command.data, offset - command.offset, holeLength);
                } finally {
                    command.release();
                }
            }
            command.covered += holeLength;
        } else if (type == Nbd.CHUNK_NONE) {
            if (length != 0 || !last) {
                throw garbage("a NONE chunk of " + length + " bytes" + (last ? "" : " without the DONE flag"));
            }
        } else if ((type & Nbd.CHUNK_ERROR_FLAG) != 0) {
            if (length < 6 || length > MAX_CONTROL_CHUNK) {
                throw garbage("an error chunk of " + length + " bytes for " + command);
            }
            ByteBuffer body = readControl(length);
            int error = body.getInt(0);
            int messageLength = Short.toUnsignedInt(body.getShort(4));
            long expected = 6 + messageLength + (type == Nbd.CHUNK_ERROR_OFFSET ? 8 : 0);
            if (error == 0 || (type == Nbd.CHUNK_ERROR || type == Nbd.CHUNK_ERROR_OFFSET) && length != expected) {
                throw garbage("an error chunk (error " + error + ", " + length + " bytes, message of "
                        + messageLength + ") for " + command);
            }
            if (command.chunkError == 0) {
                command.chunkError = error;
            }
        } else {
            throw garbage("a structured chunk of unknown type " + type + " for " + command);
        }
        if (command.covered > command.length) {
            throw garbage("chunks covering " + command.covered + " bytes of " + command);
        }
        if (last) {
            if (command.chunkError == 0 && command.isRead() && command.covered != command.length) {
                throw garbage("a read reply that covered " + command.covered + " bytes of " + command);
            }
            inFlight.remove(cookie);
            command.answer(command.chunkError);
        }
    }

    private void checkRange(NbdCommand command, long offset, long length, String chunk) throws NbdException {
        long end = offset + length;
        if (offset < command.offset || end < offset || end > command.offset + command.length) {
            throw garbage("an " + chunk + " chunk for " + length + " bytes at " + offset + ", outside " + command);
        }
    }

    private ByteBuffer readControl(long length) throws IOException {
        control.clear().limit((int) length);
        Pieces.readFully(channel, control);
        return control.flip();
    }

    private static NbdException garbage(String what) {
        return new NbdException("bad reply: " + what, false);
    }
}
