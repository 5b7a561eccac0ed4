package io.vduse.blk.nbd;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

/**
 * One NBD request in flight on a connection: what to send, where its data is (the driver's
 * buffers, as {@link ByteBuffer}s over their memory), and how far its reply has come.
 *
 * <p>Three states guard the driver's memory, which is the driver's again as soon as the
 * callback ran: {@code WAITING} (in the table, nobody touches its data), {@code BUSY} (one thread
 * is sending or receiving its data) and {@code DONE} (answered: its data is never touched again).
 * A timeout can only answer a {@code WAITING} command, so it never hands memory back while a
 * socket is still reading into it.
 */
public final class NbdCommand {

    /** Told once when the command is answered. */
    public interface Callback {
        /**
         * @param error 0, an NBD error value ({@link Nbd#EIO}...), or {@link #TIMED_OUT}
         */
        void done(NbdCommand command, int error);
    }

    /** The callback's error when the command waited longer than the timeout. */
    public static final int TIMED_OUT = -1;

    static final int WAITING = 0;
    static final int BUSY = 1;
    static final int DONE = 2;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(NbdCommand.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int type;
    final int flags;
    final long offset;
    final int length;
    /** The data: destinations of a read, sources of a write; null for the other commands. */
    final ByteBuffer[] data;
    final Callback callback;
    /** Set at creation; the timeout counts from here. */
    final long startNanos;
    /** Set by the connection when it takes the command. */
    long cookie;
    /** The connection generation it was last sent on; under the connection's send lock. */
    long sentOn = -1;
    /** Of a structured read: bytes the chunks covered, and the first error a chunk gave; reader thread only. */
    long covered;
    int chunkError;
    @SuppressWarnings("unused") // through STATE
    private volatile int state;

    /** A command of {@code type} ({@code Nbd.CMD_*}) with its data pieces (null when it carries none). */
    public NbdCommand(int type, int flags, long offset, int length, ByteBuffer[] data, Callback callback) {
        this.type = type;
        this.flags = flags;
        this.offset = offset;
        this.length = length;
        this.data = data;
        this.callback = callback;
        this.startNanos = System.nanoTime();
    }

    /** Takes the command for sending or receiving; false when it is answered already (or busy). */
    boolean claim() {
        return STATE.compareAndSet(this, WAITING, BUSY);
    }

    /** Gives the command back after {@link #claim}. */
    void release() {
        STATE.setRelease(this, WAITING);
    }

    /** Whether the command was answered. */
    boolean done() {
        return (int) STATE.getAcquire(this) == DONE;
    }

    /** Whether a thread is touching its data. */
    boolean busy() {
        return (int) STATE.getAcquire(this) == BUSY;
    }

    /** Answers a claimed command: its memory is the driver's again. */
    void finishClaimed(int error) {
        STATE.setRelease(this, DONE);
        callback.done(this, error);
    }

    /** Answers a waiting command (a timeout, a close); false when someone else has it. */
    boolean finishWaiting(int error) {
        if (!STATE.compareAndSet(this, WAITING, DONE)) {
            return false;
        }
        callback.done(this, error);
        return true;
    }

    /** Forgets what a reply on a lost connection delivered, before the command is sent again. */
    void resetReply() {
        covered = 0;
        chunkError = 0;
    }

    /** Whether the reply carries data into {@link #data}. */
    boolean isRead() {
        return type == Nbd.CMD_READ;
    }

    @Override
    public String toString() {
        return commandName(type) + " " + length + " bytes at " + offset;
    }

    static String commandName(int type) {
        return switch (type) {
            case Nbd.CMD_READ -> "NBD_CMD_READ";
            case Nbd.CMD_WRITE -> "NBD_CMD_WRITE";
            case Nbd.CMD_FLUSH -> "NBD_CMD_FLUSH";
            case Nbd.CMD_TRIM -> "NBD_CMD_TRIM";
            case Nbd.CMD_WRITE_ZEROES -> "NBD_CMD_WRITE_ZEROES";
            default -> "NBD command " + type;
        };
    }
}
