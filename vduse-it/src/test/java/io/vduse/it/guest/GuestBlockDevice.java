package io.vduse.it.guest;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.RamBlockHandler;
import io.vduse.core.VduseDevice;
import io.vduse.core.VduseException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A block device built with the SDK, run in the guest against the real kernel: the test suite's
 * RAM block handler over a file mapped shared, so the data outlives the process (as after a
 * SIGKILL). Prints {@code READY} once the device exists, {@code NEGOTIATED 0x...} once the driver
 * is running, and on SIGTERM closes the device, printing {@code CLOSED} or {@code CLOSE_FAILED}
 * with the SDK's message.
 *
 * <p>Arguments: {@code NAME FILE QUEUES [--reconnect | --async]}; the file's size is the capacity.
 * With {@code --async} each request is served on one of four threads after a random delay
 * ({@link DelayingAsyncHandler}), and {@code OUT_OF_ORDER n} says at the end how many requests
 * completed before one started earlier on their queue.
 */
public final class GuestBlockDevice {

    private GuestBlockDevice() {}

    public static void main(String[] args) throws Exception {
        String name = args[0];
        Path file = Path.of(args[1]);
        int queues = Integer.parseInt(args[2]);
        boolean reconnect = args.length > 3 && args[3].equals("--reconnect");
        boolean async = args.length > 3 && args[3].equals("--async");
        ExecutorService pool = Executors.newFixedThreadPool(4, Thread.ofPlatform().daemon(true).factory());
        AtomicLong outOfOrder = new AtomicLong();
        Arena arena = Arena.ofShared();
        MemorySegment disk;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            disk = channel.map(FileChannel.MapMode.READ_WRITE, 0, channel.size(), arena);
        }
        long sectors = disk.byteSize() / VirtioBlk.SECTOR_SIZE;
        VirtioBlkConfig config = new VirtioBlkConfig(sectors, 0, 126, 0, 0, 0, 0, 0, 0, 0, 0, 0, queues,
                0, 0, 0, 0, 0, 0, 0, 0, 0);
        VduseDevice.Builder builder = VduseDevice.builder(name)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioBlk.F_SEG_MAX)
                        | VirtioFeatures.bit(VirtioBlk.F_MQ) | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX)
                        | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC))
                .config(config.toBytes())
                .queues(queues, 256)
                .reconnect(reconnect);
        if (async) {
            builder.asyncHandlers(index -> new DelayingAsyncHandler(disk, "vduse-it-" + index, pool, 17 + index,
                    outOfOrder));
        } else {
            builder.handlers(index -> new RamBlockHandler(disk, "vduse-it-" + index));
        }
        VduseDevice device = builder.start();
        System.out.println("READY " + name + " api " + device.apiVersion());
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                device.close();
                if (async) {
                    System.out.println("OUT_OF_ORDER " + outOfOrder.get());
                }
                System.out.println("CLOSED");
            } catch (VduseException e) {
                System.out.println("CLOSE_FAILED " + e.getMessage());
            }
            System.out.flush();
            closed.countDown();
        }));
        while (device.negotiatedFeatures() == 0 && closed.getCount() > 0) {
            Thread.sleep(50);
        }
        System.out.println("NEGOTIATED 0x" + Long.toHexString(device.negotiatedFeatures()));
        System.out.flush();
        closed.await();
    }
}
