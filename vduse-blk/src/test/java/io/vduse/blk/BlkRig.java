package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.ErrnoException;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link VirtioBlkDevice} on the simulated kernel with its driver attached, and helpers that
 * send virtio-blk requests and return the status byte.
 */
final class BlkRig implements AutoCloseable {

    final SimulatedKernel kernel = new SimulatedKernel();
    final BlockBackend backend;
    final VirtioBlkDevice device;
    final SimulatedDriver driver;

    BlkRig(BlkOptions options, BlockBackend backend) throws Exception {
        this(options, backend, SimulatedDriver.Options.defaults().withQueueSize(Math.min(64, options.queueSize())));
    }

    BlkRig(BlkOptions options, BlockBackend backend, SimulatedDriver.Options driverOptions) throws Exception {
        this.backend = backend;
        this.device = VirtioBlkDevice.start(options, backend, kernel);
        this.driver = SimulatedDriver.attach(kernel, options.name(), driverOptions);
    }

    static byte[] header(int type, long sector) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
    }

    /** One discard / write-zeroes range. */
    static byte[] range(long sector, int sectors, int flags) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(sector).putInt(sectors).putInt(flags)
                .array();
    }

    /** {@code length} bytes of {@code file} at {@code offset}, read past the device. */
    static byte[] fileBytes(Path file, long offset, int length) throws IOException {
        byte[] bytes = new byte[length];
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            raf.seek(offset);
            raf.readFully(bytes);
        }
        return bytes;
    }

    static Completion await(CompletableFuture<Completion> request) throws Exception {
        return request.get(30, TimeUnit.SECONDS);
    }

    /** The status byte: the last byte of the last writable buffer. */
    static int status(Completion c) {
        byte[] last = c.writable().get(c.writable().size() - 1);
        return last[last.length - 1];
    }

    Completion submit(int queue, List<byte[]> readable, int... writable) throws Exception {
        return await(driver.submit(queue, readable, writable));
    }

    int write(int queue, long sector, byte[] data) throws Exception {
        return status(submit(queue, List.of(header(VirtioBlk.T_OUT, sector), data), 1));
    }

    /** Reads {@code length} bytes; the data, or null if the status was not OK. */
    byte[] read(int queue, long sector, int length) throws Exception {
        Completion c = submit(queue, List.of(header(VirtioBlk.T_IN, sector)), length, 1);
        return status(c) == VirtioBlk.S_OK ? c.writable().get(0) : null;
    }

    int readStatus(int queue, long sector, int length) throws Exception {
        return status(submit(queue, List.of(header(VirtioBlk.T_IN, sector)), length, 1));
    }

    int simple(int type, long sector) throws Exception {
        return status(submit(0, List.of(header(type, sector)), 1));
    }

    int zeroing(int type, byte[]... ranges) throws Exception {
        List<byte[]> readable = new ArrayList<>();
        readable.add(header(type, 0));
        readable.addAll(List.of(ranges));
        return status(submit(0, readable, 1));
    }

    @Override
    public void close() throws java.io.IOException {
        try {
            driver.close();
        } catch (ErrnoException ignored) {
            // the device may be gone already
        }
        device.close();
        backend.close();
    }
}
