package io.vduse.it.guest;

import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Sockets;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The service manager's end of {@code sd_notify}, in the guest: binds an {@code AF_UNIX}
 * datagram socket (a path, or {@code @name} in the abstract namespace), prints {@code BOUND},
 * then for each datagram a line {@code NOTIFY <field>} per line of it; on {@code READY=1} also
 * whether {@code NODE} exists at that moment ({@code NODE_AT_READY present|absent}). Ends after
 * {@code STOPPING=1}, or after 300 s without one. Arguments: {@code SOCKET NODE}.
 */
public final class NotifyListener {

    private NotifyListener() {}

    public static void main(String[] args) throws ErrnoException {
        String name = args[0];
        Path node = Path.of(args[1]);
        try (Arena arena = Arena.ofConfined()) {
            int fd = Sockets.socket(Sockets.AF_UNIX, Sockets.SOCK_DGRAM | Sockets.SOCK_CLOEXEC, 0);
            MemorySegment address = arena.allocate(Sockets.SOCKADDR_UN_SIZE);
            Sockets.bind(fd, address, Sockets.unixAddress(name, address), name);
            Sockets.receiveTimeout(fd, 300_000);
            System.out.println("BOUND");
            MemorySegment buffer = arena.allocate(4096);
            while (true) {
                int n = (int) Sockets.receive(fd, buffer, name);
                String datagram = new String(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
                for (String field : datagram.split("\n")) {
                    System.out.println("NOTIFY " + field);
                    if (field.equals("READY=1")) {
                        System.out.println("NODE_AT_READY " + (Files.exists(node) ? "present" : "absent"));
                    }
                }
                if (datagram.lines().anyMatch("STOPPING=1"::equals)) {
                    return;
                }
            }
        }
    }
}
