package io.vduse.examples;

import io.vduse.core.VduseDevice;
import io.vduse.core.VduseException;
import io.vduse.core.VduseKernel;
import java.util.concurrent.CountDownLatch;

/**
 * Runs a {@link PatternDisk} against the real kernel until SIGINT or SIGTERM:
 * {@code java --enable-native-access=io.vduse.core -p JARS -m io.vduse.examples/io.vduse.examples.PatternDiskMain NAME [MIB]}
 * (as root, with {@code modprobe vduse virtio_vdpa}). Prints {@code READY NAME} once the device
 * exists, and {@code CLOSED} (or {@code CLOSE_FAILED} with the reason) after destroying it.
 */
public final class PatternDiskMain {

    private PatternDiskMain() {}

    /** Arguments: the device's name, and its size in MiB (default 64). */
    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: PatternDiskMain NAME [MIB]");
            System.exit(2);
        }
        String name = args[0];
        long mib = args.length == 2 ? Long.parseLong(args[1]) : 64;
        VduseDevice device = PatternDisk.start(name, mib << 11, VduseKernel.linux());
        System.out.println("READY " + name);
        System.out.println("Attach it: vdpa dev add name " + name + " mgmtdev vduse; detach: vdpa dev del " + name);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                device.close();
                System.out.println("CLOSED");
            } catch (VduseException e) {
                System.out.println("CLOSE_FAILED " + e.getMessage());
            }
            closed.countDown();
        }));
        closed.await();
    }
}
