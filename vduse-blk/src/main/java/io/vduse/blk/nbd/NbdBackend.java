package io.vduse.blk.nbd;

import io.vduse.blk.BlockBackend;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A disk served by an NBD server: the export's size, flags and block sizes from the handshake,
 * and its connections, one per queue where the server says {@code NBD_FLAG_CAN_MULTI_CONN} (so
 * that the queues never share a socket) or one shared by all otherwise. A timer thread answers
 * requests older than the timeout.
 *
 * <p>The device serves it asynchronously ({@code NbdQueueHandler}: every request of every queue on
 * the wire at once, answered as replies come). The {@link BlockBackend} methods are the same
 * requests, one at a time, waited for: for the device's shutdown flush and for tools.
 *
 * <p>Where the server lacks a command: flush without {@code NBD_FLAG_SEND_FLUSH} succeeds (the
 * server writes through), trim without {@code SEND_TRIM} does nothing (a discard is advice), and
 * write-zeroes without {@code SEND_WRITE_ZEROES} writes zeros.
 */
public final class NbdBackend implements BlockBackend {

    /** The {@code --nbd-timeout} default: long enough for a server restart, short enough for a driver. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private final NbdUri uri;
    private final NbdConnection[] connections;
    private final NbdExport export;
    private final ScheduledExecutorService timer;
    private final ByteBuffer zeros;
    private final Duration timeout;

    private NbdBackend(NbdUri uri, NbdConnection[] connections, Duration timeout, long tickNanos) {
        this.uri = uri;
        this.timeout = timeout;
        this.connections = connections;
        this.export = connections[0].export();
        this.timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("nbd-" + uri.server() + "-timer").factory());
        timer.scheduleAtFixedRate(this::expire, tickNanos, tickNanos, TimeUnit.NANOSECONDS);
        this.zeros = ByteBuffer.allocateDirect(Math.min(export.maximumPayload(), 1 << 20)).asReadOnlyBuffer();
    }

    /**
     * Connects to {@code uri}: one connection, and {@code queues - 1} more when the server allows
     * several.
     *
     * @throws NbdException if the server refuses (no such export, TLS required, an oldstyle server)
     * @throws IOException if it cannot be reached
     */
    public static NbdBackend connect(NbdUri uri, Duration timeout, int queues) throws IOException {
        long timeoutNanos = timeout.toNanos();
        if (timeoutNanos <= 0) {
            throw new IllegalArgumentException("timeout " + timeout + " is not positive");
        }
        NbdConnection first = NbdConnection.open(uri, 0, timeoutNanos);
        int count = first.export().canMultiConn() ? queues : 1;
        NbdConnection[] connections = new NbdConnection[count];
        connections[0] = first;
        try {
            for (int i = 1; i < count; i++) {
                connections[i] = NbdConnection.open(uri, i, timeoutNanos);
            }
        } catch (IOException | RuntimeException e) {
            for (NbdConnection c : connections) {
                if (c != null) {
                    c.close();
                }
            }
            throw e;
        }
        // A tenth of the timeout (10 ms to 1 s): a request fails at most that much after its time.
        long tick = Math.clamp(timeoutNanos / 10, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(1));
        return new NbdBackend(uri, connections, timeout, tick);
    }

    private void expire() {
        long now = System.nanoTime();
        for (NbdConnection c : connections) {
            c.expire(now);
        }
    }

    /** What the server said about the export. */
    public NbdExport export() {
        return export;
    }

    /** How long a request may wait for the server. */
    public Duration timeout() {
        return timeout;
    }

    /** Where the server is. */
    public NbdUri uri() {
        return uri;
    }

    /** The connection queue {@code queue} sends on. */
    public NbdConnection connection(int queue) {
        return connections[queue % connections.length];
    }

    /** How many connections are open to the server. */
    public int connectionCount() {
        return connections.length;
    }

    /** How many times, over all connections, a lost connection was made again. */
    public long reconnects() {
        long n = 0;
        for (NbdConnection c : connections) {
            n += c.reconnects();
        }
        return n;
    }

    @Override
    public long size() {
        return export.size();
    }

    @Override
    public long refreshSize() {
        return export.size();
    }

    @Override
    public void read(long offset, MemorySegment buffer, long length) throws IOException {
        run(Nbd.CMD_READ, 0, offset, length, new ByteBuffer[] {buffer.asSlice(0, length).asByteBuffer()});
    }

    @Override
    public void write(long offset, MemorySegment buffer, long length) throws IOException {
        run(Nbd.CMD_WRITE, 0, offset, length, new ByteBuffer[] {buffer.asSlice(0, length).asByteBuffer()});
    }

    @Override
    public void flush() throws IOException {
        if (export.canFlush()) {
            run(Nbd.CMD_FLUSH, 0, 0, 0, null);
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        if (export.canTrim()) {
            run(Nbd.CMD_TRIM, 0, offset, length, null);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        if (export.canWriteZeroes()) {
            run(Nbd.CMD_WRITE_ZEROES, unmap ? 0 : Nbd.CMD_FLAG_NO_HOLE, offset, length, null);
            return;
        }
        for (long done = 0; done < length; done += zeros.capacity()) {
            long n = Math.min(zeros.capacity(), length - done);
            run(Nbd.CMD_WRITE, 0, offset + done, n, new ByteBuffer[] {zeros.slice(0, (int) n)});
        }
    }

    /** A buffer of zeros of at most the server's payload, for write-zeroes without the command. */
    public ByteBuffer zeros() {
        return zeros.duplicate();
    }

    @Override
    public void resize(long newSize) throws IOException {
        throw new IOException("the size of an NBD export is the server's: " + export.size() + " bytes");
    }

    private void run(int type, int flags, long offset, long length, ByteBuffer[] data) throws IOException {
        CompletableFuture<Integer> answer = new CompletableFuture<>();
        NbdTransfer.start(connections[0], type, flags, offset, length, data, answer::complete);
        int error;
        try {
            error = answer.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for " + uri.server());
        } catch (ExecutionException e) {
            throw new IOException(e.getCause());
        }
        if (error != 0) {
            throw new IOException(errorText(type, error));
        }
    }

    /** What a failed command means, for messages. */
    public String errorText(int type, int error) {
        String what = NbdCommand.commandName(type) + " on " + uri.server();
        return error == NbdCommand.TIMED_OUT ? what + ": timed out" : what + ": " + Nbd.errorName(error);
    }

    @Override
    public String describe() {
        return "nbd " + uri.server() + " export " + uri.exportText() + " (" + export.flagsText() + "; "
                + connections.length + (connections.length == 1 ? " connection)" : " connections)");
    }

    @Override
    public void close() {
        timer.shutdownNow();
        for (NbdConnection c : connections) {
            c.close();
        }
    }
}
