package io.vduse.blk.nbd;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

/**
 * One NBD request in flight on a connection: what to send, where its data is (the driver's
 * buffers, as {@link ByteBuffer}s over their memory), and how far its reply has come.
 *
 * <p>Four states guard the driver's memory, which is the driver's again as soon as the
 * callback ran: {@code WAITING} (in the table, nobody touches its data), {@code BUSY} (one thread
 * moves its data: the sender writing a write's, or the reader receiving a read's),
 * {@code ANSWERED} (a write's reply came while its sender still held it: the sender answers it as
 * it lets go) and {@code DONE} (answered: its data is never touched again). A timeout can only
 * answer a {@code WAITING} command, so it never hands memory back while a socket is still
 * reading into it or writing from it.
 *
 * <p>No thread ever waits for another here: a reader that finds a write still being sent hands
 * its answer over instead of waiting for the sender (which, preempted between its last
 * {@code write} and letting go, could keep a spinning reader from the CPU for a whole time
 * slice; under emulation, where one host thread runs every virtual CPU, for 100 ms).
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
    static final int ANSWERED = 2;
    static final int DONE = 3;

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
    /** The error of a reply that came while the sender held the command; published by the CAS to ANSWERED. */
    private int answeredError;
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

    /**
     * Takes the command for moving its data (the sender, a write's; the reader, a read's); false
     * when it is answered already.
     */
    boolean claim() {
        return STATE.compareAndSet(this, WAITING, BUSY);
    }

    /** Gives the command back after the reader's {@link #claim}. */
    void release() {
        STATE.setRelease(this, WAITING);
    }

    /**
     * Gives the command back after the sender's {@link #claim}, and answers it if its reply came
     * meanwhile ({@link #answer} found it busy): then on the sender's thread.
     */
    void releaseSent() {
        if (!STATE.compareAndSet(this, BUSY, WAITING)) {
            // ANSWERED: only the reader moves a busy command there, and only the sender moves it on.
            STATE.setRelease(this, DONE);
            callback.done(this, answeredError);
        }
    }

    /** Whether the command was answered. */
    boolean done() {
        return (int) STATE.getAcquire(this) == DONE;
    }

    /** Whether a thread is touching its data. */
    boolean busy() {
        int state = (int) STATE.getAcquire(this);
        return state == BUSY || state == ANSWERED;
    }

    /** Answers a command the reader claimed: its memory is the driver's again. */
    void finishClaimed(int error) {
        STATE.setRelease(this, DONE);
        callback.done(this, error);
    }

    /**
     * Answers the command for its reply (the reader, for a reply that brings no data): now, or,
     * when its sender still holds it, by the sender as it lets go. Nothing if it was answered
     * already (timed out).
     */
    void answer(int error) {
        answeredError = error; // before the CAS that publishes it to the sender
        while (true) {
            int state = (int) STATE.getAcquire(this);
            if (state == WAITING && STATE.compareAndSet(this, WAITING, DONE)) {
                callback.done(this, error);
                return;
            }
            if (state == BUSY && STATE.compareAndSet(this, BUSY, ANSWERED)) {
                return; // the sender answers it in releaseSent
            }
            if (state == DONE || state == ANSWERED) {
                return;
            }
            // The state moved between the read and the CAS (the sender let go, or took it): look again.
        }
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
