package io.vduse.core.internal.linux;

import io.vduse.core.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A generic netlink socket ({@code AF_NETLINK}, {@code NETLINK_GENERIC}) that sends one request
 * at a time to the kernel and collects the answers up to its acknowledgement. Receives wait at
 * most the timeout given, so a kernel that never answers cannot hang the caller.
 */
public final class NetlinkSocket implements AutoCloseable {

    private static final int RECEIVE_BUFFER = 32 * 1024;

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment kernel = arena.allocate(Sockets.SOCKADDR_NL_SIZE, 4);
    private final MemorySegment receiveBuffer = arena.allocate(RECEIVE_BUFFER);
    private int seq = 1;

    /** Opens the socket; each receive waits at most {@code timeoutMillis}. */
    public NetlinkSocket(long timeoutMillis) throws ErrnoException {
        fd = Sockets.socket(Sockets.AF_NETLINK, Sockets.SOCK_RAW | Sockets.SOCK_CLOEXEC, Sockets.NETLINK_GENERIC);
        try {
            Sockets.receiveTimeout(fd, timeoutMillis);
            // The kernel's own words on a refusal ("Fail to find the specified management device"),
            // and error messages that do not echo the whole request back. Both are hints: a kernel
            // without them still answers with the errno.
            try {
                Sockets.setIntOption(fd, Sockets.SOL_NETLINK, Sockets.NETLINK_EXT_ACK, 1);
                Sockets.setIntOption(fd, Sockets.SOL_NETLINK, Sockets.NETLINK_CAP_ACK, 1);
            } catch (ErrnoException ignored) {
                // answers come without the text
            }
            Sockets.kernelNetlinkAddress(kernel);
        } catch (ErrnoException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The next sequence number, to build a request with. */
    public int nextSeq() {
        return seq++;
    }

    /**
     * Sends {@code request} (built with sequence number {@code requestSeq}) and returns every
     * answer to it, the acknowledgement last.
     *
     * @throws ErrnoException if sending or receiving fails ({@code EAGAIN}: no answer in time)
     */
    public List<GenericNetlink.Reply> transact(byte[] request, int requestSeq, String what) throws ErrnoException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment data = call.allocate(request.length);
            MemorySegment.copy(request, 0, data, ValueLayout.JAVA_BYTE, 0, request.length);
            Sockets.sendTo(fd, data, request.length, kernel, Sockets.SOCKADDR_NL_SIZE, what);
        }
        List<GenericNetlink.Reply> answers = new ArrayList<>();
        byte[] bytes = new byte[RECEIVE_BUFFER];
        while (true) {
            int n = (int) Sockets.receive(fd, receiveBuffer, what);
            MemorySegment.copy(receiveBuffer, ValueLayout.JAVA_BYTE, 0, bytes, 0, n);
            for (GenericNetlink.Reply reply : GenericNetlink.parse(bytes, n)) {
                if (reply.seq() != requestSeq) {
                    continue; // a late answer to an earlier request
                }
                answers.add(reply);
                if (reply instanceof GenericNetlink.Ack) {
                    return answers;
                }
            }
        }
    }

    @Override
    public void close() {
        try {
            Syscalls.close(fd);
        } catch (ErrnoException ignored) {
            // the descriptor is gone either way
        } finally {
            arena.close();
        }
    }
}
