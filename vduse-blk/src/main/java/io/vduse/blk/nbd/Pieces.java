package io.vduse.blk.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Moves data between a socket and a request's pieces (the driver's buffers as {@link ByteBuffer}s,
 * each from position 0 to its capacity), at an offset into the request, as a structured reply's
 * chunks need.
 */
final class Pieces {

    private Pieces() {}

    /** Reads {@code length} bytes from {@code channel} into {@code pieces} from byte {@code at} of them. */
    static void receive(ReadableByteChannel channel, ByteBuffer[] pieces, long at, long length) throws IOException {
        long start = 0;
        for (ByteBuffer piece : pieces) {
            long end = start + piece.capacity();
            if (length > 0 && at < end) {
                int from = (int) (at - start);
                int n = (int) Math.min(length, end - at);
                piece.limit(from + n).position(from);
                try {
                    readFully(channel, piece);
                } finally {
                    // Even when the connection drops mid-piece: the request is sent again, and its
                    // next reply (a hole, say) finds every piece whole, position 0 to capacity.
                    piece.clear();
                }
                at += n;
                length -= n;
            }
            start = end;
        }
    }

    /** Zeroes {@code length} bytes of {@code pieces} from byte {@code at}: a hole in a read. */
    static void zero(ByteBuffer[] pieces, long at, long length) {
        long start = 0;
        for (ByteBuffer piece : pieces) {
            long end = start + piece.capacity();
            if (length > 0 && at < end) {
                long from = at - start;
                long n = Math.min(length, end - at);
                // ofBuffer spans position to limit: from the piece's start whatever they are now.
                MemorySegment.ofBuffer(piece.duplicate().clear()).asSlice(from, n).fill((byte) 0);
                at += n;
                length -= n;
            }
            start = end;
        }
    }

    /** Reads and drops {@code length} bytes: data for a request answered already. */
    static void discard(ReadableByteChannel channel, ByteBuffer scratch, long length) throws IOException {
        while (length > 0) {
            scratch.clear().limit((int) Math.min(scratch.capacity(), length));
            readFully(channel, scratch);
            length -= scratch.limit();
        }
    }

    /** Fills {@code buffer} from {@code channel}. */
    static void readFully(ReadableByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new EOFException("the server closed the connection");
            }
        }
    }

    /**
     * {@code length} bytes of {@code pieces} from byte {@code at}, as new buffers over the same
     * memory: one part of a request split at the server's payload limit.
     */
    static ByteBuffer[] slice(ByteBuffer[] pieces, long at, long length) {
        int first = -1;
        int count = 0;
        long start = 0;
        for (int i = 0; i < pieces.length; i++) {
            long end = start + pieces[i].capacity();
            if (end > at && start < at + length) {
                if (first < 0) {
                    first = i;
                }
                count++;
            }
            start = end;
        }
        ByteBuffer[] out = new ByteBuffer[count];
        start = 0;
        for (int i = 0, k = 0; i < pieces.length; i++) {
            long end = start + pieces[i].capacity();
            if (end > at && start < at + length) {
                int from = (int) (Math.max(at, start) - start);
                int to = (int) (Math.min(at + length, end) - start);
                out[k++] = pieces[i].slice(from, to - from);
            }
            start = end;
        }
        return out;
    }
}
