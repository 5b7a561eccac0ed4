package io.vduse.blk.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * The reading side of a connection with a buffer in front of it: one {@code read(2)} takes
 * whatever the server has sent so far, at queue depth the headers and data of many replies,
 * where reading each field on its own cost a system call per field (four for a 4 KiB read
 * answered in a structured chunk). A read at least as large as the buffer, with nothing buffered,
 * goes straight to its destination, so that large data is not copied twice.
 *
 * <p>Used by the connection's reader thread alone.
 */
final class ReadAhead implements ReadableByteChannel {

    /** Room for the replies to 32 reads of 4 KiB, headers included. */
    static final int SIZE = 160 << 10;

    private final ReadableByteChannel channel;
    /** Between position and limit: read from the channel, not yet taken. */
    private final ByteBuffer buffer;

    ReadAhead(ReadableByteChannel channel, int size) {
        this.channel = channel;
        this.buffer = ByteBuffer.allocateDirect(size).flip();
    }

    @Override
    public int read(ByteBuffer destination) throws IOException {
        if (!destination.hasRemaining()) {
            return 0;
        }
        if (!buffer.hasRemaining()) {
            if (destination.remaining() >= buffer.capacity()) {
                return channel.read(destination);
            }
            buffer.clear();
            int n;
            try {
                n = channel.read(buffer);
            } finally {
                buffer.flip();
            }
            if (n <= 0) {
                return n; // -1 at the end of the stream, 0 from a non-blocking channel
            }
        }
        int n = Math.min(destination.remaining(), buffer.remaining());
        destination.put(destination.position(), buffer, buffer.position(), n);
        destination.position(destination.position() + n);
        buffer.position(buffer.position() + n);
        return n;
    }

    /** How many bytes were read from the channel and not yet taken. */
    int buffered() {
        return buffer.remaining();
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
