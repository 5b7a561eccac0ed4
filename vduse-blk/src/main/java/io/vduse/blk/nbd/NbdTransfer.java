package io.vduse.blk.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One block request as one or more NBD commands: a read or write above the server's maximum
 * payload, or a trim or write-zeroes above what a 32-bit length holds, split into parts aligned to
 * the minimum block, each its own command; the request is answered once every part is, with the
 * first error any part had.
 */
public final class NbdTransfer implements NbdCommand.Callback {

    /** Told once when every part is answered. */
    public interface Done {
        /** @param error 0, the first NBD error of a part, or {@link NbdCommand#TIMED_OUT} */
        void done(int error);
    }

    /** The longest trim or write-zeroes one command carries: 1 GiB, well inside the 32-bit length field. */
    static final long MAX_ZEROING_PART = 1L << 30;

    private final AtomicInteger remaining = new AtomicInteger();
    private final AtomicInteger firstError = new AtomicInteger();
    private final Done done;

    private NbdTransfer(Done done) {
        this.done = done;
    }

    /**
     * Sends {@code length} bytes of command {@code type} at {@code offset} on {@code connection},
     * {@code data} the pieces of a read or write (null otherwise).
     */
    public static void start(NbdConnection connection, int type, int flags, long offset, long length,
            ByteBuffer[] data, Done done) {
        start(connection, false, type, flags, offset, length, data, done);
    }

    /**
     * As {@link #start}, but the commands wait in the connection for its next
     * {@link NbdConnection#sendHeld}, to go out with the others of the same pass.
     */
    public static void hold(NbdConnection connection, int type, int flags, long offset, long length,
            ByteBuffer[] data, Done done) {
        start(connection, true, type, flags, offset, length, data, done);
    }

    private static void start(NbdConnection connection, boolean hold, int type, int flags, long offset, long length,
            ByteBuffer[] data, Done done) {
        NbdExport export = connection.export();
        long part = switch (type) {
            case Nbd.CMD_READ, Nbd.CMD_WRITE -> export.maximumPayload();
            case Nbd.CMD_TRIM, Nbd.CMD_WRITE_ZEROES -> MAX_ZEROING_PART / export.minimumBlock() * export.minimumBlock();
            default -> Long.MAX_VALUE;
        };
        NbdTransfer transfer = new NbdTransfer(done);
        if (length <= part) {
            transfer.remaining.set(1);
            transfer.send(connection, hold, new NbdCommand(type, flags, offset, (int) length, data, transfer));
            return;
        }
        int parts = (int) ((length + part - 1) / part);
        transfer.remaining.set(parts);
        for (long at = 0; at < length; at += part) {
            long n = Math.min(part, length - at);
            ByteBuffer[] pieces = data == null ? null : Pieces.slice(data, at, n);
            transfer.send(connection, hold, new NbdCommand(type, flags, offset + at, (int) n, pieces, transfer));
        }
    }

    private void send(NbdConnection connection, boolean hold, NbdCommand command) {
        if (hold) {
            connection.hold(command);
        } else {
            connection.submit(command);
        }
    }

    @Override
    public void done(NbdCommand command, int error) {
        if (error != 0) {
            firstError.compareAndSet(0, error);
        }
        // The decrement orders every part's writes into the driver's memory before the answer.
        if (remaining.decrementAndGet() == 0) {
            done.done(firstError.get());
        }
    }
}
