package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.iova.Access;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link ChainReader#appendTo} and {@link ChainWriter#appendTo}: the pieces are the chain's own
 * memory, split at buffer and mapping edges, and a refusal leaves the position where it was.
 * {@code appendUpTo}: as many whole pieces as the vectors take, in batches, stopping before a
 * piece they refuse.
 */
class AppendToTest {

    private static final long EDGE = Rig.DATA + Rig.DATA_HALF;
    private static final long HEAP = 0x400000;

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    /** The bytes the pieces of {@code v} describe, in order (read through their raw addresses). */
    private static byte[] gathered(Rig rig, IoVectors v) {
        byte[] out = new byte[(int) v.totalLength()];
        copyPieces(rig, v, out, false);
        return out;
    }

    /** Copies {@code bytes} into the pieces of {@code v} (toPieces), or the pieces into {@code bytes}. */
    private static void copyPieces(Rig rig, IoVectors v, byte[] bytes, boolean toPieces) {
        int at = 0;
        for (int i = 0; i < v.count(); i++) {
            int n = (int) v.length(i);
            MemorySegment piece = rig.memory.atAddress(v.address(i), n);
            if (toPieces) {
                MemorySegment.copy(bytes, at, piece, ValueLayout.JAVA_BYTE, 0, n);
            } else {
                MemorySegment.copy(piece, ValueLayout.JAVA_BYTE, 0, bytes, at, n);
            }
            at += n;
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void readablePiecesAreTheDriversBytesSplitAtBuffersAndMappings(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            // A 16-byte header, then 300 bytes across the mapping edge, then 100 more in a third buffer.
            long[] iovas = {Rig.DATA, EDGE - 100, Rig.DATA + 8192};
            int[] lengths = {16, 300, 100};
            byte[] data = pattern(416, 7);
            rig.memory.copyIn(iovas[0], Arrays.copyOfRange(data, 0, 16));
            rig.memory.copyIn(iovas[1], Arrays.copyOfRange(data, 16, 316));
            rig.memory.copyIn(iovas[2], Arrays.copyOfRange(data, 316, 416));
            DescriptorChain chain = rig.popOne(iovas, lengths, 3, 0);
            ChainReader in = chain.reader();
            in.skip(16);
            IoVectors v = new IoVectors(8, 1);
            assertThat(in.appendTo(v, 400)).isTrue();
            assertThat(v.count()).as("pieces: before the edge, after it, the third buffer").isEqualTo(3);
            assertThat(v.length(0)).isEqualTo(100);
            assertThat(v.length(1)).isEqualTo(200);
            assertThat(v.length(2)).isEqualTo(100);
            assertThat(gathered(rig, v)).isEqualTo(Arrays.copyOfRange(data, 16, 416));
            assertThat(in.remaining()).isZero();
            assertThat(in.bytesRead()).isEqualTo(416);
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void writablePiecesReachTheDriver(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            long[] iovas = {Rig.DATA, EDGE - 4096, Rig.DATA + 4096};
            int[] lengths = {16, 8192, 1};
            DescriptorChain chain = rig.popOne(iovas, lengths, 1, 2);
            ChainWriter out = chain.writer();
            IoVectors v = new IoVectors(4, 4096);
            assertThat(out.appendTo(v, 8192)).isTrue();
            assertThat(v.count()).isEqualTo(2);
            byte[] data = pattern(8192, 3);
            copyPieces(rig, v, data, true);
            out.writeByte((byte) 0x5a);
            assertThat(out.bytesWritten()).isEqualTo(8193);
            assertThat(rig.memory.raw(EDGE - 4096, 4096).toArray(ValueLayout.JAVA_BYTE))
                    .isEqualTo(Arrays.copyOfRange(data, 0, 4096));
            assertThat(rig.memory.raw(EDGE, 4096).toArray(ValueLayout.JAVA_BYTE))
                    .isEqualTo(Arrays.copyOfRange(data, 4096, 8192));
            assertThat(rig.memory.raw(iovas[2], 1).get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x5a);
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void aRefusalLeavesThePositionAndTheVectorsAsTheyWere(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            // Three pieces (the middle buffer spans the mapping edge), one of them off a 512 alignment.
            long[] iovas = {Rig.DATA + 512, EDGE - 512, Rig.DATA + 8192 + 3};
            int[] lengths = {512, 1024, 512};
            byte[] data = pattern(2048, 11);
            rig.memory.copyIn(iovas[0], Arrays.copyOfRange(data, 0, 512));
            rig.memory.copyIn(iovas[1], Arrays.copyOfRange(data, 512, 1536));
            rig.memory.copyIn(iovas[2], Arrays.copyOfRange(data, 1536, 2048));
            DescriptorChain chain = rig.popOne(iovas, lengths, 3, 0);
            ChainReader in = chain.reader();

            IoVectors tooSmall = new IoVectors(2, 1);
            assertThat(tooSmall.add(0x1000, 1)).isTrue(); // something already there stays
            assertThat(in.appendTo(tooSmall, 2048)).isFalse();
            assertThat(tooSmall.count()).isEqualTo(1);
            assertThat(tooSmall.totalLength()).isEqualTo(1);
            assertThat(in.bytesRead()).isZero();

            IoVectors aligned = new IoVectors(8, 512);
            assertThat(in.appendTo(aligned, 2048)).as("the third buffer is off the alignment").isFalse();
            assertThat(aligned.count()).isZero();
            assertThat(in.appendTo(aligned, 1536)).as("the first two are fine").isTrue();
            assertThat(gathered(rig, aligned)).isEqualTo(Arrays.copyOfRange(data, 0, 1536));

            // After the refusals the reader copies from where it was.
            MemorySegment rest = MemorySegment.ofArray(new byte[512]);
            in.read(rest, 0, 512);
            assertThat(rest.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(Arrays.copyOfRange(data, 1536, 2048));
            assertThat(rig.device.failure()).isNull();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void heapMemoryHasNoAddressAndIsRefused(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            rig.memory.mapHeap(HEAP, 4096, Access.READ_WRITE);
            DescriptorChain chain = rig.popOne(new long[] {Rig.DATA, HEAP}, new int[] {64, 64}, 1, 1);
            IoVectors v = new IoVectors(4, 1);
            assertThat(chain.writer().appendTo(v, 64)).isFalse();
            assertThat(v.count()).isZero();
            assertThat(chain.writer().bytesWritten()).isZero();
            assertThat(chain.reader().appendTo(v, 64)).as("native memory").isTrue();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void appendUpToFillsTheVectorsAndGoesOnInTheNextBatch(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            // Five pieces: 100, then 300 across the mapping edge (200 + 100), then 50 and 60.
            long[] iovas = {Rig.DATA, EDGE - 200, Rig.DATA + 8192, Rig.DATA + 12288};
            int[] lengths = {100, 300, 50, 60};
            byte[] data = pattern(510, 5);
            int at = 0;
            for (int i = 0; i < iovas.length; i++) {
                rig.memory.copyIn(iovas[i], Arrays.copyOfRange(data, at, at + lengths[i]));
                at += lengths[i];
            }
            ChainReader in = rig.popOne(iovas, lengths, 4, 0).reader();
            IoVectors v = new IoVectors(2, 1);

            assertThat(in.appendUpTo(v, 510)).as("two pieces fit").isEqualTo(300);
            assertThat(v.count()).isEqualTo(2);
            assertThat(gathered(rig, v)).isEqualTo(Arrays.copyOfRange(data, 0, 300));
            assertThat(in.bytesRead()).isEqualTo(300);
            assertThat(in.appendUpTo(v, 210)).as("the vectors are full").isZero();

            v.clear();
            assertThat(in.appendUpTo(v, 210)).isEqualTo(150);
            assertThat(gathered(rig, v)).isEqualTo(Arrays.copyOfRange(data, 300, 450));
            v.clear();
            assertThat(in.appendUpTo(v, 60)).isEqualTo(60);
            assertThat(gathered(rig, v)).isEqualTo(Arrays.copyOfRange(data, 450, 510));
            assertThat(in.remaining()).isZero();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void appendUpToStopsBeforeARefusedPiece(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            rig.memory.mapHeap(HEAP, 4096, Access.READ_WRITE);
            // 512 aligned, then 512 off the alignment, then 512 of heap memory.
            long[] iovas = {Rig.DATA, Rig.DATA + 8192 + 3, HEAP};
            int[] lengths = {512, 512, 512};
            DescriptorChain chain = rig.popOne(iovas, lengths, 0, 3);
            ChainWriter out = chain.writer();
            IoVectors v = new IoVectors(8, 512);
            assertThat(out.appendUpTo(v, 1536)).isEqualTo(512);
            assertThat(out.bytesWritten()).isEqualTo(512);
            assertThat(out.appendUpTo(v, 1024)).as("off the alignment").isZero();
            assertThat(v.count()).isEqualTo(1);
            out.skip(512);
            assertThat(out.appendUpTo(v, 512)).as("heap memory").isZero();
            assertThat(out.bytesWritten()).isEqualTo(1024);
            assertThat(rig.device.failure()).isNull();
        }
    }
}
