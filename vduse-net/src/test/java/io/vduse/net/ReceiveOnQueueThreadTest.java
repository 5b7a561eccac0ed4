package io.vduse.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.ErrnoException;
import io.vduse.core.NonBlockingFile;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.net.GuestNic.Received;
import io.vduse.net.NetCounters.Counter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backend with a descriptor ({@link NetBackend#receiveFd()}, as a TAP has) is read by the
 * receive queue's own thread, only while it holds buffers, and a frame too big for the held
 * buffers waits for more instead of being dropped. The backend here is a FIFO that the test makes
 * readable, one byte per frame it queues.
 */
class ReceiveOnQueueThreadTest {

    private static final MacAddress HOST = MacAddress.parse("02:00:00:00:00:42");

    /** Frames queued by the test; its FIFO is readable while some wait. */
    private static final class FifoBackend implements NetBackend {
        final NonBlockingFile fifo;
        final ConcurrentLinkedQueue<byte[]> frames = new ConcurrentLinkedQueue<>();
        final Set<String> readingThreads = ConcurrentHashMap.newKeySet();
        final AtomicInteger reads = new AtomicInteger();
        private final Arena arena = Arena.ofShared();
        private final MemorySegment readByte = arena.allocate(1);
        private final MemorySegment writeByte = arena.allocate(1);
        private final VnetHeader header = new VnetHeader();

        FifoBackend(Path dir) throws Exception {
            Path path = dir.resolve("frames");
            assertThat(new ProcessBuilder("mkfifo", path.toString()).inheritIO().start().waitFor()).isZero();
            fifo = NonBlockingFile.open(path); // read and write: opening does not wait for a writer
        }

        void offer(byte[] frame) throws ErrnoException {
            frames.add(frame);
            assertThat(fifo.write(writeByte, 1)).isEqualTo(1);
        }

        @Override
        public void attach(FrameSink receiver) {}

        @Override
        public boolean transmit(VnetHeader header, MemorySegment frame) {
            return true;
        }

        @Override
        public int receiveFd() {
            return fifo.fd();
        }

        @Override
        public boolean receive(FrameSink sink) throws ErrnoException {
            reads.incrementAndGet();
            readingThreads.add(Thread.currentThread().getName());
            if (fifo.read(readByte, 1) <= 0) {
                return false;
            }
            byte[] frame = frames.remove();
            header.set((byte) 0, (byte) 0, (short) 0, (short) 0, (short) 0, (short) 0);
            sink.accept(header, MemorySegment.ofArray(frame));
            return true;
        }

        @Override
        public void close() {
            try {
                fifo.close();
            } catch (ErrnoException e) {
                throw new IllegalStateException(e);
            }
            arena.close();
        }
    }

    @TempDir
    Path dir;
    private final SimulatedKernel kernel = new SimulatedKernel();
    private FifoBackend backend;
    private VirtioNetDevice device;
    private GuestNic nic;

    @BeforeEach
    void start() throws Exception {
        backend = new FifoBackend(dir);
        device = VirtioNetDevice.start(NetOptions.of("netfifo"), backend, kernel);
        nic = new GuestNic(kernel, "netfifo", SimulatedDriver.Options.defaults().withQueueSize(64));
        assertThat(VirtioFeatures.has(nic.driver.negotiatedFeatures(), VirtioNet.F_MRG_RXBUF)).isTrue();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            nic.close();
            device.close();
        } finally {
            backend.close();
        }
    }

    @Test
    void framesAreReadOnTheReceiveQueuesThreadStraightIntoTheDriversBuffers() throws Exception {
        nic.postReceiveBuffers(8, 2048);
        byte[][] sent = {Frames.frame(device.options().mac(), HOST, 60, 1), Frames.frame(device.options().mac(), HOST, 1514, 2),
            Frames.frame(device.options().mac(), HOST, 333, 3)};
        for (byte[] frame : sent) {
            backend.offer(frame);
        }

        List<Received> got = nic.awaitReceived(3);

        assertThat(got).extracting(Received::frame).containsExactly(sent);
        assertThat(backend.readingThreads).containsExactly("vduse-netfifo-q" + VirtioNet.RX_QUEUE);
        assertThat(device.counters().get(Counter.RX_FRAMES)).isEqualTo(3);
    }

    @Test
    void aFrameArrivingBeforeAnyBufferWaitsInTheBackendUnread() throws Exception {
        byte[] frame = Frames.frame(device.options().mac(), HOST, 200, 4);
        backend.offer(frame);
        Thread.sleep(200); // long enough for a thread that did wait on the FIFO to have read it

        assertThat(backend.reads.get()).isZero();
        nic.postReceiveBuffers(2, 2048);

        assertThat(nic.awaitReceived(1)).extracting(Received::frame).containsExactly(frame);
        assertThat(device.counters().get(Counter.RX_DROPPED_NO_BUFFER)).isZero();
    }

    @Test
    void aFrameTooBigForTheHeldBuffersWaitsForMoreInsteadOfBeingDropped() throws Exception {
        nic.postReceiveBuffers(2, 2048);
        NetRig.awaitHeld(device, 2);
        byte[] big = Frames.frame(device.options().mac(), HOST, 5000, 5); // 5012 bytes with its header
        byte[] after = Frames.frame(device.options().mac(), HOST, 100, 6);
        backend.offer(big);
        backend.offer(after);
        GuestNic.await(() -> backend.reads.get() >= 1);
        Thread.sleep(200);

        assertThat(nic.pendingReceiveBuffers()).isEqualTo(2); // nothing used: the frame waits
        assertThat(backend.frames).containsExactly(after);     // and the backend is not read meanwhile
        nic.postReceiveBuffers(2, 2048);

        List<Received> got = nic.awaitReceived(4);
        assertThat(got).extracting(Received::frame).containsExactly(big, after);
        assertThat(got.get(0).numBuffers()).isEqualTo(3);
        assertThat(device.counters().get(Counter.RX_DROPPED_NO_BUFFER)).isZero();
    }
}
