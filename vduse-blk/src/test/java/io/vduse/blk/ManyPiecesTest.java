package io.vduse.blk;

import static io.vduse.blk.BlkRig.header;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.iova.AddressSpace;
import io.vduse.iova.CoherentBuffer;
import io.vduse.iova.DmaDirection;
import io.vduse.iova.IovaDomain;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.DriverQueue;
import io.vduse.virtqueue.IoVectors;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A request whose data is in more pieces than one {@code preadv}/{@code pwritev} takes
 * ({@link IoVectors#IOV_MAX}) moves in consecutive vectored calls, each at its own file offset,
 * not through the device's copy buffer.
 *
 * <p>A chain is bounded by its ring, and {@link BlkOptions} keeps rings at 1024 as QEMU does, so
 * through the simulated kernel a chain has at most 1022 data buffers; more pieces than that come
 * from buffers that straddle IOTLB mappings (guest memory regions under vhost-vdpa). Here the
 * queue handler serves a ring of 2048 directly, driven in-process by the driver side of the
 * virtqueue module over an {@link IovaDomain}: 1500 buffers of 512 bytes in one indirect table.
 */
class ManyPiecesTest {

    private static final int RING = 2048;
    private static final int PIECES = 1500;
    private static final int PIECE = 512;
    private static final long DISK = 4L << 20;

    @TempDir
    Path dir;

    /** A driver end and the device end of one split ring with indirect tables, in one IOVA domain. */
    private static final class Ring implements AutoCloseable {
        final IovaDomain domain = new IovaDomain(16L << 20, 1L << 20);
        final AddressSpace memory = new AddressSpace(domain.mappingSource());
        final DriverQueue driver;
        final DeviceQueue device;
        final DescriptorChain chain;

        Ring() {
            long features = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC);
            CoherentBuffer desc = domain.allocCoherent(16L * RING);
            CoherentBuffer avail = domain.allocCoherent(SplitRing.availRingSize(RING));
            CoherentBuffer used = domain.allocCoherent(SplitRing.usedRingSize(RING));
            driver = DriverQueue.create(RING, desc.memory(), avail.memory(), used.memory(), features);
            device = DeviceQueue.create(memory, RING, desc.iova(), avail.iova(), used.iova(), features, null);
            chain = device.newChain();
        }

        /**
         * Sends {@code buffers} (readable first, then writable, each mapped for streaming DMA)
         * in one indirect table, lets {@code handler} answer, and copies what the device wrote
         * back into the writable buffers.
         */
        void serve(BlkQueueHandler handler, byte[][] buffers, int readable) throws Exception {
            int n = buffers.length;
            long[] iovas = new long[n];
            int[] lengths = new int[n];
            MemorySegment[] segments = new MemorySegment[n];
            for (int i = 0; i < n; i++) {
                segments[i] = MemorySegment.ofArray(buffers[i]);
                lengths[i] = buffers[i].length;
                iovas[i] = domain.mapPage(segments[i], direction(i < readable));
            }
            CoherentBuffer table = domain.allocCoherent(16L * n);
            assertThat(driver.addIndirect(iovas, lengths, readable, n - readable, table.iova(), table.memory()))
                    .isNotNegative();
            assertThat(device.pop(chain)).isTrue();
            assertThat(chain.bufferCount()).isEqualTo(n);
            handler.handle(chain);
            device.push(chain, (int) chain.writer().bytesWritten());
            device.publish();
            assertThat(driver.pollUsed()).isNotNegative();
            for (int i = 0; i < n; i++) {
                domain.unmapPage(iovas[i], lengths[i], direction(i < readable));
            }
            domain.freeCoherent(table);
        }

        private static DmaDirection direction(boolean readable) {
            return readable ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE;
        }

        @Override
        public void close() {
            memory.close();
            domain.close();
        }
    }

    @Test
    void moreThanIovMaxPiecesMoveInVectoredBatches() throws Exception {
        assertThat(PIECES).isGreaterThan(IoVectors.IOV_MAX);
        Path file = dir.resolve("pieces.img");
        BlkOptions options = BlkOptions.defaults("t-pieces");
        byte[] data = new byte[PIECES * PIECE];
        new Random(1500).nextBytes(data);
        long sector = 64;
        try (CountingBackend backend = new CountingBackend(FileBackend.open(file, false, false, DISK));
                Ring ring = new Ring();
                Arena arena = Arena.ofConfined()) {
            BlkQueueHandler handler = new BlkQueueHandler(new DiskState(options, DISK), backend,
                    arena.allocate(BlkQueueHandler.SCRATCH_SIZE, BlockBackend.BUFFER_ALIGNMENT), new QueueCounters());

            byte[][] write = new byte[PIECES + 2][];
            write[0] = header(VirtioBlk.T_OUT, sector);
            for (int i = 0; i < PIECES; i++) {
                write[1 + i] = Arrays.copyOfRange(data, i * PIECE, (i + 1) * PIECE);
            }
            write[PIECES + 1] = new byte[1];
            ring.serve(handler, write, PIECES + 1);
            assertThat(write[PIECES + 1][0]).isEqualTo((byte) VirtioBlk.S_OK);
            byte[] onDisk = new byte[data.length];
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
                raf.seek(sector * VirtioBlk.SECTOR_SIZE);
                raf.readFully(onDisk);
            }
            assertThat(onDisk).isEqualTo(data);

            byte[][] read = new byte[PIECES + 2][];
            read[0] = header(VirtioBlk.T_IN, sector);
            for (int i = 0; i < PIECES; i++) {
                read[1 + i] = new byte[PIECE];
            }
            read[PIECES + 1] = new byte[1];
            ring.serve(handler, read, 1);
            assertThat(read[PIECES + 1][0]).isEqualTo((byte) VirtioBlk.S_OK);
            byte[] back = new byte[data.length];
            for (int i = 0; i < PIECES; i++) {
                System.arraycopy(read[1 + i], 0, back, i * PIECE, PIECE);
            }
            assertThat(back).isEqualTo(data);

            // 1500 pieces: one call of 1024, one of 476, each way; nothing through the copy buffer.
            assertThat(backend.vectorWrites).hasValue(2);
            assertThat(backend.vectorReads).hasValue(2);
            assertThat(backend.copiedWrites).hasValue(0);
            assertThat(backend.copiedReads).hasValue(0);
            assertThat(backend.mostVectors).hasValue(IoVectors.IOV_MAX);
        }
    }
}
