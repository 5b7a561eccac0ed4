package io.vduse.core.internal.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.vduse.core.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The socket calls the JDK has no channel for: {@code AF_NETLINK} (the kernel's vdpa generic
 * netlink family) and {@code AF_UNIX} datagrams (systemd's notify socket). Each method is one
 * C library call (the man page is named), retried on {@code EINTR}, throwing
 * {@link ErrnoException} with the operation and the errno.
 */
public final class Sockets {

    /** {@code AF_UNIX}. */
    public static final int AF_UNIX = 1;
    /** {@code AF_NETLINK}. */
    public static final int AF_NETLINK = 16;
    /** {@code SOCK_DGRAM}. */
    public static final int SOCK_DGRAM = 2;
    /** {@code SOCK_RAW}. */
    public static final int SOCK_RAW = 3;
    /** {@code SOCK_CLOEXEC}. */
    public static final int SOCK_CLOEXEC = 0x80000;
    /** {@code NETLINK_GENERIC}: the protocol of generic netlink families. */
    public static final int NETLINK_GENERIC = 16;
    /** {@code SOL_SOCKET}. */
    public static final int SOL_SOCKET = 1;
    /** {@code SO_RCVTIMEO} (x86-64 and arm64: {@code struct timeval} of two longs). */
    public static final int SO_RCVTIMEO = 20;
    /** {@code SOL_NETLINK}. */
    public static final int SOL_NETLINK = 270;
    /** {@code NETLINK_CAP_ACK}: an error message carries only the header of the request it answers. */
    public static final int NETLINK_CAP_ACK = 10;
    /** {@code NETLINK_EXT_ACK}: an error message carries the kernel's text saying why. */
    public static final int NETLINK_EXT_ACK = 11;

    /** {@code sizeof(struct sockaddr_un)}: a {@code sa_family_t} and 108 bytes of path. */
    public static final int SOCKADDR_UN_SIZE = 110;
    /** {@code sizeof(struct sockaddr_nl)}: family, pad, port id, groups. */
    public static final int SOCKADDR_NL_SIZE = 12;

    private static final int EINTR = 4;
    private static final int SUN_PATH_OFFSET = 2;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    private static final MethodHandle SOCKET = Native.function("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND = Native.function("bind",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDTO = Native.function("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECV = Native.function("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = Native.function("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));

    private Sockets() {}

    /** {@code socket(2)}; returns the descriptor. */
    public static int socket(int domain, int type, int protocol) throws ErrnoException {
        try {
            MemorySegment capture = Native.capture();
            int fd = (int) SOCKET.invokeExact(capture, domain, type, protocol);
            if (fd < 0) {
                throw new ErrnoException("socket(%d, %d, %d)".formatted(domain, type, protocol), Native.errno(capture));
            }
            return fd;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Syscalls.unexpected(t);
        }
    }

    /** {@code bind(2)} to the first {@code length} bytes of {@code address}. */
    public static void bind(int fd, MemorySegment address, int length, String what) throws ErrnoException {
        try {
            MemorySegment capture = Native.capture();
            int result = (int) BIND.invokeExact(capture, fd, address, length);
            if (result < 0) {
                throw new ErrnoException("bind " + what, Native.errno(capture));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Syscalls.unexpected(t);
        }
    }

    /**
     * {@code sendto(2)}: one datagram of the first {@code length} bytes of {@code data} to
     * {@code address} ({@code addressLength} bytes of it).
     *
     * @return the bytes sent
     */
    public static long sendTo(int fd, MemorySegment data, long length, MemorySegment address, int addressLength,
            String what) throws ErrnoException {
        try {
            while (true) {
                MemorySegment capture = Native.capture();
                long n = (long) SENDTO.invokeExact(capture, fd, data, length, 0, address, addressLength);
                if (n >= 0) {
                    return n;
                }
                int errno = Native.errno(capture);
                if (errno != EINTR) {
                    throw new ErrnoException("sendto " + what, errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Syscalls.unexpected(t);
        }
    }

    /**
     * {@code recv(2)}: one datagram into {@code buffer}. A timeout set by {@link #receiveTimeout}
     * ends the wait with {@code EAGAIN}.
     *
     * @return the bytes received
     */
    public static long receive(int fd, MemorySegment buffer, String what) throws ErrnoException {
        try {
            while (true) {
                MemorySegment capture = Native.capture();
                long n = (long) RECV.invokeExact(capture, fd, buffer, buffer.byteSize(), 0);
                if (n >= 0) {
                    return n;
                }
                int errno = Native.errno(capture);
                if (errno != EINTR) {
                    throw new ErrnoException("recv " + what, errno);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Syscalls.unexpected(t);
        }
    }

    /** {@code setsockopt(2)} of an {@code int} option. */
    public static void setIntOption(int fd, int level, int option, int value) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(JAVA_INT);
            v.set(JAVA_INT, 0, value);
            setOption(fd, level, option, v);
        }
    }

    /** {@code SO_RCVTIMEO}: a {@link #receive} waits at most {@code millis}. */
    public static void receiveTimeout(int fd, long millis) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment timeval = arena.allocate(16, 8);
            timeval.set(JAVA_LONG, 0, millis / 1000);
            timeval.set(JAVA_LONG, 8, (millis % 1000) * 1000);
            setOption(fd, SOL_SOCKET, SO_RCVTIMEO, timeval);
        }
    }

    private static void setOption(int fd, int level, int option, MemorySegment value) throws ErrnoException {
        try {
            MemorySegment capture = Native.capture();
            int result = (int) SETSOCKOPT.invokeExact(capture, fd, level, option, value, (int) value.byteSize());
            if (result < 0) {
                throw new ErrnoException("setsockopt(%d, %d)".formatted(level, option), Native.errno(capture));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Syscalls.unexpected(t);
        }
    }

    /**
     * Writes a {@code struct sockaddr_un} for {@code path} into {@code address} and returns the
     * length to pass with it. A path starting with {@code @} names a socket in the abstract
     * namespace (as systemd's {@code NOTIFY_SOCKET} does): its first byte becomes NUL, and the
     * length covers exactly the name, with no terminating NUL (the kernel takes every byte of an
     * abstract name as part of it).
     *
     * @throws IllegalArgumentException if the path is empty or longer than {@code sun_path}
     */
    public static int unixAddress(String path, MemorySegment address) {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        boolean abstractName = bytes.length > 0 && bytes[0] == '@';
        int max = SOCKADDR_UN_SIZE - SUN_PATH_OFFSET - (abstractName ? 0 : 1);
        if (bytes.length == 0 || bytes.length > max || (abstractName && bytes.length < 2)) {
            throw new IllegalArgumentException("a unix socket address of 1 to " + max + " bytes: '" + path + "'");
        }
        address.asSlice(0, SOCKADDR_UN_SIZE).fill((byte) 0);
        address.set(U16, 0, (short) AF_UNIX);
        // Straight from the array: no heap segment (see VirtioBlkConfig.toBytes for why that matters).
        MemorySegment.copy(bytes, 0, address, ValueLayout.JAVA_BYTE, SUN_PATH_OFFSET, bytes.length);
        if (abstractName) {
            address.set(ValueLayout.JAVA_BYTE, SUN_PATH_OFFSET, (byte) 0);
            return SUN_PATH_OFFSET + bytes.length;
        }
        return SUN_PATH_OFFSET + bytes.length + 1;
    }

    /** Writes a {@code struct sockaddr_nl} of the kernel (port id 0, no groups) into {@code address}. */
    public static int kernelNetlinkAddress(MemorySegment address) {
        address.asSlice(0, SOCKADDR_NL_SIZE).fill((byte) 0);
        address.set(U16, 0, (short) AF_NETLINK);
        return SOCKADDR_NL_SIZE;
    }
}
