package io.vduse.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.ErrnoException;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A simulated virtio-net driver over {@link SimulatedDriver}, as Linux's virtio_net uses the
 * queues: receive buffers posted on queue 0 (one buffer per chain, or a header buffer and a data
 * buffer), frames sent on queue 1 as one readable chain, header first; received frames put back
 * together from the used buffers in the device's order, {@code num_buffers} at a time.
 */
final class GuestNic implements AutoCloseable {

    /** A frame as the driver received it. */
    record Received(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset, int numBuffers,
            byte[] frame) {}

    final SimulatedDriver driver;
    private final List<CompletableFuture<Completion>> posted = new ArrayList<>();

    GuestNic(SimulatedKernel kernel, String name, SimulatedDriver.Options options) throws ErrnoException {
        this.driver = SimulatedDriver.attach(kernel, name, options);
    }

    /** Posts {@code count} receive chains of one writable buffer of {@code size} bytes each. */
    void postReceiveBuffers(int count, int size) throws ErrnoException {
        for (int i = 0; i < count; i++) {
            posted.add(driver.submit(VirtioNet.RX_QUEUE, List.of(), size));
        }
    }

    /** Posts one receive chain of several writable buffers. */
    void postReceiveChain(int... sizes) throws ErrnoException {
        posted.add(driver.submit(VirtioNet.RX_QUEUE, List.of(), sizes));
    }

    /** A virtio_net_hdr with {@code num_buffers} 0, as a driver sends it. */
    static byte[] header(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset) {
        return ByteBuffer.allocate(VirtioNet.HDR_SIZE).order(ByteOrder.LITTLE_ENDIAN).put((byte) flags)
                .put((byte) gsoType).putShort((short) hdrLen).putShort((short) gsoSize).putShort((short) csumStart)
                .putShort((short) csumOffset).putShort((short) 0).array();
    }

    /** Sends {@code frame} with an empty header; returns once the device gave the chain back. */
    Completion send(byte[] frame) throws Exception {
        return send(header(0, 0, 0, 0, 0, 0), frame);
    }

    /** Sends the header and frame in one chain of two readable buffers. */
    Completion send(byte[] header, byte[] frame) throws Exception {
        return sendBuffers(List.of(header, frame));
    }

    /** Sends a chain of these readable buffers (and these writable ones, which a TX chain should not have). */
    Completion sendBuffers(List<byte[]> readable, int... writable) throws Exception {
        return driver.submit(VirtioNet.TX_QUEUE, readable, writable).get(10, TimeUnit.SECONDS);
    }

    /** Waits until {@code count} receive chains came back, and puts the frames in them together. */
    List<Received> awaitReceived(int usedBuffers) throws Exception {
        await(() -> posted.stream().filter(CompletableFuture::isDone).count() >= usedBuffers);
        List<Completion> used = new ArrayList<>();
        for (CompletableFuture<Completion> f : posted) {
            if (f.isDone()) {
                used.add(f.get());
            }
        }
        used.sort(Comparator.comparingLong(Completion::usedOrder));
        List<Received> frames = new ArrayList<>();
        for (int i = 0; i < used.size(); ) {
            byte[] first = bytesOf(used.get(i));
            assertThat(first.length).as("a used buffer holds at least the header").isGreaterThanOrEqualTo(VirtioNet.HDR_SIZE);
            ByteBuffer h = ByteBuffer.wrap(first).order(ByteOrder.LITTLE_ENDIAN);
            int numBuffers = Short.toUnsignedInt(h.getShort(10));
            ByteArrayOutputStream frame = new ByteArrayOutputStream();
            frame.write(first, VirtioNet.HDR_SIZE, first.length - VirtioNet.HDR_SIZE);
            for (int k = 1; k < numBuffers; k++) {
                frame.writeBytes(bytesOf(used.get(i + k)));
            }
            frames.add(new Received(Byte.toUnsignedInt(first[0]), Byte.toUnsignedInt(first[1]),
                    Short.toUnsignedInt(h.getShort(2)), Short.toUnsignedInt(h.getShort(4)),
                    Short.toUnsignedInt(h.getShort(6)), Short.toUnsignedInt(h.getShort(8)), numBuffers,
                    frame.toByteArray()));
            i += Math.max(numBuffers, 1);
        }
        return frames;
    }

    /** The bytes the device wrote into a used chain, across its writable buffers. */
    private static byte[] bytesOf(Completion c) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int left = c.usedLength();
        for (byte[] buffer : c.writable()) {
            int n = Math.min(left, buffer.length);
            out.write(buffer, 0, n);
            left -= n;
        }
        return out.toByteArray();
    }

    /** Receive chains posted and not yet used. */
    long pendingReceiveBuffers() {
        return posted.stream().filter(f -> !f.isDone()).count();
    }

    static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting");
            }
            Thread.sleep(2);
        }
    }

    @Override
    public void close() throws ErrnoException {
        driver.close();
    }
}
