package io.vduse.blk.nbd;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One connection to the server, kept up: the socket, the table of commands in flight by cookie,
 * and a reader thread that reads replies in whatever order they come, reconnects with backoff
 * when the connection is lost or the server answers garbage, and then sends every command still
 * in flight again (reads and writes are idempotent at the block level; so are flush, trim and
 * write-zeroes). {@link #expire} answers commands older than the timeout with
 * {@link NbdCommand#TIMED_OUT}; the connection goes on serving the rest.
 *
 * <p>Any thread may {@link #submit}; sends are serialised by a lock, so that each request's
 * header and data go out together, with one gathering write from the driver's buffers.
 */
public final class NbdConnection implements AutoCloseable {

    private static final Logger LOG = System.getLogger(NbdConnection.class.getName());
    private static final long FIRST_BACKOFF_MS = 50;
    private static final long LAST_BACKOFF_MS = 2000;

    private final NbdUri uri;
    private final int index;
    private final long timeoutNanos;
    private final Map<Long, NbdCommand> inFlight = new ConcurrentHashMap<>();
    private final Object sendLock = new Object();
    /** Commands sent in one gathering write at most; held ones go out in batches of this many. */
    private static final int BATCH = 64;
    /** The headers of one batch, views of one buffer; under {@link #sendLock}. */
    private final ByteBuffer[] headers = headerViews();
    /** The buffers of one gathering write, headers and write data; under {@link #sendLock}. */
    private ByteBuffer[] gather = new ByteBuffer[2 * BATCH];
    /** The commands of the gathering write being made; under {@link #sendLock}. */
    private final NbdCommand[] inTheWrite = new NbdCommand[BATCH];
    private final NbdCommand[] one = new NbdCommand[1];
    private final NbdCommand[] batch = new NbdCommand[BATCH];
    /** What {@link #hold} took, in order; under {@link #sendLock}. */
    private NbdCommand[] held = new NbdCommand[BATCH];
    private int heldCount;
    private final Thread reader;
    private long nextCookie = 1;
    /** The socket in use; null while reconnecting. Under {@link #sendLock}. */
    private SocketChannel channel;
    /** Bumped at every new socket; under {@link #sendLock}. */
    private long generation;
    /** The socket the reader is connecting or reading, for {@link #expire} to abort. */
    private volatile SocketChannel current;
    private volatile long connectStartNanos;
    private volatile boolean connecting;
    private volatile NbdExport export;
    private volatile boolean closed;
    private volatile long reconnects;

    private NbdConnection(NbdUri uri, int index, long timeoutNanos, SocketChannel first, NbdExport export) {
        this.uri = uri;
        this.index = index;
        this.timeoutNanos = timeoutNanos;
        this.export = export;
        this.channel = first;
        this.current = first;
        this.generation = 1;
        this.reader = Thread.ofPlatform().daemon().name("nbd-" + uri.server() + "-c" + index)
                .unstarted(() -> run(first));
    }

    /**
     * Connects and negotiates, then starts the reader thread. A server that cannot be reached, or
     * refuses, is said at once; one that drops the connection in the middle of the handshake is
     * asked again, with backoff, until the timeout: qemu-nbd, for one, gives a handshake 10 s,
     * which a JVM just started on a slow machine can take.
     *
     * @throws NbdException if the server refuses
     * @throws IOException if it cannot be reached, or keeps dropping the handshake
     */
    static NbdConnection open(NbdUri uri, int index, long timeoutNanos) throws IOException {
        long deadline = System.nanoTime() + timeoutNanos;
        long backoff = FIRST_BACKOFF_MS;
        for (int attempt = 1; ; attempt++) {
            SocketChannel channel = connect(uri);
            NbdExport export;
            try {
                export = negotiateWithin(channel, uri, Math.max(1, deadline - System.nanoTime()));
            } catch (NbdException | RuntimeException e) {
                channel.close();
                throw e;
            } catch (IOException e) {
                channel.close();
                if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff) >= deadline) {
                    throw attempt == 1 ? e : new IOException(uri.server() + ": the handshake was cut off " + attempt
                            + " times within " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms, the last time: "
                            + e.getMessage(), e);
                }
                LOG.log(Level.WARNING, "{0}: the handshake was cut off ({1}); trying again in {2} ms", uri.server(),
                        e.getMessage(), backoff);
                sleep(backoff);
                backoff = Math.min(backoff * 2, LAST_BACKOFF_MS);
                continue;
            }
            NbdConnection connection = new NbdConnection(uri, index, timeoutNanos, channel, export);
            connection.reader.start();
            return connection;
        }
    }

    /** The export, as the last handshake described it. */
    public NbdExport export() {
        return export;
    }

    /** How many times the connection was made again. */
    public long reconnects() {
        return reconnects;
    }

    /** How many commands are in the table (answered ones whose late reply is awaited included). */
    public int inFlight() {
        return inFlight.size();
    }

    /** Sends {@code command} now, or when the connection is back; it is answered through its callback. */
    public void submit(NbdCommand command) {
        synchronized (sendLock) {
            if (take(command)) {
                one[0] = command;
                sendAll(one, 1);
            }
        }
    }

    /**
     * Takes {@code command} to be sent with the others held at the next {@link #sendHeld}: a queue's
     * thread holds what one pass over its ring starts and sends it in one system call at the end of
     * the pass. It is in flight from here on (a reconnect sends it, the timeout counts).
     */
    public void hold(NbdCommand command) {
        synchronized (sendLock) {
            if (take(command)) {
                if (held.length == heldCount) {
                    held = Arrays.copyOf(held, heldCount * 2);
                }
                held[heldCount++] = command;
            }
        }
    }

    /** Sends every command {@link #hold} took since the last call, together. */
    public void sendHeld() {
        synchronized (sendLock) {
            for (int from = 0; from < heldCount; from += BATCH) {
                int count = Math.min(BATCH, heldCount - from);
                System.arraycopy(held, from, batch, 0, count);
                sendAll(batch, count);
            }
            Arrays.fill(held, 0, heldCount, null);
            heldCount = 0;
        }
    }

    /** Enters a command in the table under a new cookie; false (and answered) once closed. Under {@link #sendLock}. */
    private boolean take(NbdCommand command) {
        if (closed) {
            command.finishWaiting(Nbd.ESHUTDOWN);
            return false;
        }
        command.cookie = nextCookie++;
        inFlight.put(command.cookie, command);
        return true;
    }

    /**
     * Sends {@code commands[0..count)} on the current socket in one gathering write: each header,
     * and after a write's header its data straight from the driver's buffers. Under
     * {@link #sendLock}. Only a write is claimed while it goes out, for its data is read from the
     * driver's memory; a read's header touches none, so its reply, which may come before this
     * returns, finds it free for the reader.
     */
    private void sendAll(NbdCommand[] commands, int count) {
        if (channel == null) {
            // A send before failed: the reader reconnects and sends the table again.
            Arrays.fill(commands, 0, count, null);
            return;
        }
        int sending = 0;
        int buffers = 0;
        for (int i = 0; i < count; i++) {
            NbdCommand command = commands[i];
            commands[i] = null;
            if (command.sentOn == generation || command.done()) {
                continue; // sent on this socket already (by a reconnect), or answered (timed out)
            }
            boolean write = command.type == Nbd.CMD_WRITE;
            if (write && !command.claim()) {
                continue; // timed out since the look above
            }
            command.sentOn = generation;
            ByteBuffer header = headers[sending];
            header.clear();
            header.putInt(Nbd.REQUEST_MAGIC).putShort((short) command.flags).putShort((short) command.type)
                    .putLong(command.cookie).putLong(command.offset).putInt(command.length).flip();
            int needed = buffers + 1 + (write ? command.data.length : 0);
            if (gather.length < needed) {
                gather = Arrays.copyOf(gather, Math.max(needed, gather.length * 2));
            }
            gather[buffers++] = header;
            if (write) {
                System.arraycopy(command.data, 0, gather, buffers, command.data.length);
                buffers += command.data.length;
            }
            inTheWrite[sending++] = command;
        }
        if (sending == 0) {
            return;
        }
        try {
            writeFully(buffers);
        } catch (IOException | RuntimeException e) {
            // The reader sees the socket closed, logs why and reconnects; these commands stay in
            // flight. (A RuntimeException: the driver's memory went away under a timed-out
            // request's resend.)
            LOG.log(Level.DEBUG, "{0}: sending {1} command(s) failed: {2}", name(), sending, e.toString());
            abort(channel);
            channel = null;
        } finally {
            Arrays.fill(gather, 0, buffers, null); // the driver's buffers are not kept past the send
            for (int i = 0; i < sending; i++) {
                NbdCommand command = inTheWrite[i];
                inTheWrite[i] = null;
                if (command.type == Nbd.CMD_WRITE) {
                    for (ByteBuffer piece : command.data) {
                        piece.clear(); // positions put back for a send again
                    }
                    command.releaseSent(); // answers it, if the server's reply was quicker than this
                }
            }
        }
    }

    /** {@link #BATCH} request headers, each a view of its own part of one direct buffer. */
    private static ByteBuffer[] headerViews() {
        ByteBuffer all = ByteBuffer.allocateDirect(BATCH * Nbd.REQUEST_SIZE);
        ByteBuffer[] views = new ByteBuffer[BATCH];
        for (int i = 0; i < BATCH; i++) {
            views[i] = all.slice(i * Nbd.REQUEST_SIZE, Nbd.REQUEST_SIZE);
        }
        return views;
    }

    /** Writes {@code gather[0..count)} whole. */
    private void writeFully(int count) throws IOException {
        long left = 0;
        for (int i = 0; i < count; i++) {
            left += gather[i].remaining();
        }
        int first = 0;
        while (left > 0) {
            left -= channel.write(gather, first, count - first);
            while (first < count && !gather[first].hasRemaining()) {
                first++;
            }
        }
    }


    private void run(SocketChannel first) {
        SocketChannel socket = first;
        long backoff = FIRST_BACKOFF_MS;
        long lastComplaint = 0;
        while (!closed) {
            if (socket == null) {
                try {
                    connecting = true;
                    connectStartNanos = System.nanoTime();
                    socket = connect(uri);
                    current = socket;
                    NbdExport now = negotiateWithin(socket, uri, timeoutNanos);
                    if (now.size() != export.size()) {
                        LOG.log(Level.WARNING, "{0}: the export is now {1} bytes, was {2}", name(), now.size(),
                                export.size());
                    }
                    export = now;
                } catch (IOException | RuntimeException e) {
                    abort(socket);
                    socket = null;
                    long now = System.nanoTime();
                    if (lastComplaint == 0 || now - lastComplaint > TimeUnit.SECONDS.toNanos(10)) {
                        lastComplaint = now;
                        LOG.log(Level.WARNING, "{0}: cannot reconnect: {1} (retrying every {2} ms at most)", name(),
                                e.getMessage(), LAST_BACKOFF_MS);
                    }
                    sleep(backoff);
                    backoff = Math.min(backoff * 2, LAST_BACKOFF_MS);
                    continue;
                } finally {
                    connecting = false;
                }
                int resent = 0;
                synchronized (sendLock) {
                    if (closed) {
                        abort(socket);
                        break;
                    }
                    channel = socket;
                    generation++;
                    int count = 0;
                    for (NbdCommand command : inFlight.values()) {
                        if (!command.done()) {
                            // Here, on the reader's thread, which alone reads what the reset clears.
                            command.resetReply();
                            batch[count++] = command;
                            resent++;
                            if (count == BATCH) {
                                sendAll(batch, count);
                                count = 0;
                            }
                        }
                    }
                    sendAll(batch, count);
                }
                reconnects++;
                backoff = FIRST_BACKOFF_MS;
                lastComplaint = 0;
                LOG.log(Level.WARNING, "{0}: reconnected, {1} request(s) sent again", name(), resent);
            }
            try {
                NbdReplyReader replies = new NbdReplyReader(socket, inFlight, export.structuredReplies());
                while (!closed) {
                    replies.readOne();
                }
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    LOG.log(Level.WARNING, "{0}: connection lost: {1}; reconnecting", name(),
                            e.getMessage() != null ? e.getMessage() : e.toString());
                }
            }
            synchronized (sendLock) {
                if (channel == socket) {
                    channel = null;
                }
                // Answered commands wait for no reply any more: the new socket will not send one.
                inFlight.values().removeIf(NbdCommand::done);
            }
            abort(socket);
            socket = null;
        }
        // Closed: nothing more will be answered by the server.
        for (NbdCommand command : inFlight.values()) {
            command.finishWaiting(Nbd.ESHUTDOWN);
        }
        inFlight.clear();
    }

    /**
     * Answers every waiting command older than the timeout with {@link NbdCommand#TIMED_OUT}, and
     * drops the socket when a command being sent or received, or a handshake, is stuck beyond
     * it. Called periodically by the client's timer thread.
     */
    void expire(long nowNanos) {
        boolean stuck = false;
        for (NbdCommand command : inFlight.values()) {
            if (nowNanos - command.startNanos > timeoutNanos) {
                if (command.busy()) {
                    stuck = true;
                } else if (command.finishWaiting(NbdCommand.TIMED_OUT)) {
                    LOG.log(Level.DEBUG, "{0}: {1} timed out", name(), command);
                }
            }
        }
        if (connecting && nowNanos - connectStartNanos > timeoutNanos) {
            stuck = true;
        }
        if (stuck) {
            LOG.log(Level.WARNING, "{0}: no progress for {1} s: dropping the connection", name(),
                    TimeUnit.NANOSECONDS.toSeconds(timeoutNanos));
            abort(current);
        }
    }

    /** Closes the socket under a stuck read or write, which then fails: the reader reconnects. */
    private static void abort(SocketChannel socket) {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing is all that was wanted
            }
        }
    }

    private String name() {
        return "nbd " + uri.server() + " connection " + index;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static SocketChannel connect(NbdUri uri) throws IOException {
        SocketAddress address = uri.address();
        SocketChannel channel;
        if (address instanceof UnixDomainSocketAddress) {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        } else {
            InetSocketAddress unresolved = (InetSocketAddress) address;
            address = new InetSocketAddress(unresolved.getHostString(), unresolved.getPort());
            if (((InetSocketAddress) address).isUnresolved()) {
                throw new IOException("cannot resolve " + unresolved.getHostString());
            }
            channel = SocketChannel.open();
        }
        try {
            if (!(address instanceof UnixDomainSocketAddress)) {
                channel.socket().setTcpNoDelay(true); // small requests must not wait for Nagle
            }
            channel.connect(address);
        } catch (IOException e) {
            channel.close();
            throw new IOException("cannot connect to " + uri.server() + ": " + e.getMessage(), e);
        }
        return channel;
    }

    /** The handshake, bounded by the timeout: a server that accepts and then says nothing is given up on. */
    private static NbdExport negotiateWithin(SocketChannel channel, NbdUri uri, long timeoutNanos) throws IOException {
        Thread watchdog = Thread.ofVirtual().unstarted(() -> {
            try {
                Thread.sleep(TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
                abort(channel);
            } catch (InterruptedException e) {
                // the handshake finished in time
            }
        });
        watchdog.start();
        try {
            return NbdHandshake.negotiate(channel, uri.server(), uri.export());
        } catch (IOException e) {
            if (!channel.isOpen()) {
                throw new IOException(uri.server() + ": no handshake within "
                        + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s", e);
            }
            throw e;
        } finally {
            watchdog.interrupt();
        }
    }

    /** Stops the reader; commands still in flight are answered {@link Nbd#ESHUTDOWN}. */
    @Override
    public void close() {
        SocketChannel socket;
        synchronized (sendLock) {
            closed = true;
            socket = channel;
            channel = null;
            if (socket != null) {
                // NBD_CMD_DISC: a polite goodbye, so the server does not log a lost client.
                try {
                    ByteBuffer goodbye = headers[0].clear();
                    goodbye.putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_DISC)
                            .putLong(0).putLong(0).putInt(0).flip();
                    while (goodbye.hasRemaining()) {
                        socket.write(goodbye);
                    }
                } catch (IOException ignored) {
                    // gone already
                }
            }
        }
        abort(socket);
        abort(current);
        reader.interrupt();
        try {
            reader.join(TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
