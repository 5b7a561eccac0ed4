package io.vduse.core;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Sends virtio-blk requests through a simulated driver, for tests. */
final class BlockClient {

    private final SimulatedDriver driver;

    BlockClient(SimulatedDriver driver) {
        this.driver = driver;
    }

    static byte[] header(int type, long sector) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
    }

    CompletableFuture<Completion> write(int queue, long sector, byte[] data) throws ErrnoException {
        return driver.submit(queue, List.of(header(VirtioBlk.T_OUT, sector), data), 1);
    }

    CompletableFuture<Completion> read(int queue, long sector, int length) throws ErrnoException {
        return driver.submit(queue, List.of(header(VirtioBlk.T_IN, sector)), length, 1);
    }

    /** The status byte of a completed request: the last writable buffer's only byte. */
    static int status(Completion c) {
        byte[] last = c.writable().get(c.writable().size() - 1);
        return last[last.length - 1];
    }
}
