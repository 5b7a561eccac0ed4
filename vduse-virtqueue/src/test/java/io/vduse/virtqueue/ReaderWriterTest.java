package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.Layouts;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The reader and writer over a chain: values across buffers and mappings, skips, bounds. */
class ReaderWriterTest {

    private static final long EDGE = Rig.DATA + Rig.DATA_HALF;

    private static byte[] counting(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i + 1);
        }
        return b;
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void valuesStraddlingBuffersAndMappings(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            // Buffer 0: 3 bytes; buffer 1: 21 bytes across the edge between two mappings.
            long[] iovas = {Rig.DATA + 64, EDGE - 5};
            int[] lengths = {3, 21};
            byte[] data = counting(24);
            rig.memory.copyIn(iovas[0], java.util.Arrays.copyOfRange(data, 0, 3));
            rig.memory.copyIn(iovas[1], java.util.Arrays.copyOfRange(data, 3, 24));
            DescriptorChain chain = rig.popOne(iovas, lengths, 2, 0);
            MemorySegment expected = MemorySegment.ofArray(data);
            ChainReader r = chain.reader();
            assertThat(r.remaining()).isEqualTo(24);
            assertThat(r.readShortLe()).isEqualTo(expected.get(Layouts.LE16, 0));
            // Bytes 2..9: the end of buffer 0 and the start of buffer 1.
            assertThat(r.readLongLe()).isEqualTo(expected.get(Layouts.LE64, 2));
            // Bytes 10..13 and 14..17: the second value crosses the mapping edge at byte 8 of buffer 1.
            assertThat(r.readIntLe()).isEqualTo(expected.get(Layouts.LE32, 10));
            assertThat(r.readIntLe()).isEqualTo(expected.get(Layouts.LE32, 14));
            r.skip(3);
            assertThat(r.bytesRead()).isEqualTo(21);
            assertThat(r.readByte()).isEqualTo(data[21]);
            MemorySegment rest = MemorySegment.ofArray(new byte[2]);
            r.read(rest, 0, 2);
            assertThat(rest.toArray(Layouts.U8)).containsExactly(data[22], data[23]);
            assertThat(r.remaining()).isZero();
            assertThatThrownBy(r::readByte).isInstanceOf(IndexOutOfBoundsException.class);
            // Reading too far is the device's mistake, not the driver's: the queue goes on.
            assertThat(rig.device.failure()).isNull();
            assertThat(chain.writer().remaining()).isZero();
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void writesStraddlingBuffersAndMappings(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, true))) {
            long[] iovas = {Rig.DATA, EDGE - 2, Rig.DATA + 4096};
            int[] lengths = {1, 6, 16};
            DescriptorChain chain = rig.popOne(iovas, lengths, 1, 2);
            ChainWriter w = chain.writer();
            assertThat(chain.writableLength()).isEqualTo(22);
            w.writeIntLe(0x0403_0201);          // 2 bytes before the edge, 2 after
            w.writeLongLe(0x0c0b_0a09_0807_0605L); // 2 bytes in buffer 1, 6 in buffer 2
            w.skip(2);
            w.writeShortLe((short) 0x100f);
            w.writeByte((byte) 0x11);
            w.write(MemorySegment.ofArray(new byte[] {0x12, 0x13}), 0, 2);
            assertThat(w.bytesWritten()).isEqualTo(19);
            assertThat(w.remaining()).isEqualTo(3);
            assertThatThrownBy(() -> w.writeIntLe(0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(rig.memory.copyOut(EDGE - 2, 6)).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(rig.memory.copyOut(Rig.DATA + 4096, 13)).containsExactly(7, 8, 9, 10, 11, 12, 0, 0, 15, 16, 17, 18, 19);
            rig.device.push(chain, (int) w.bytesWritten());
            rig.device.publish();
            assertThat(rig.driver.pollUsed()).isNotNegative();
            assertThat(rig.driver.usedLength()).isEqualTo(19);
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void buffersInOneMappingAreTranslatedOnce(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            long[] iovas = {Rig.DATA, Rig.DATA + 100, Rig.DATA + 200, Rig.DATA + 300};
            int[] lengths = {50, 50, 50, 50};
            DescriptorChain chain = rig.popOne(iovas, lengths, 4, 0);
            long before = rig.memory.lookups;
            MemorySegment sink = MemorySegment.ofArray(new byte[200]);
            chain.reader().read(sink, 0, 200);
            assertThat(rig.memory.lookups - before).isEqualTo(1);
        }
    }

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void zeroLengthBuffersAreSkipped(boolean packed) {
        try (Rig rig = new Rig(8, Rig.features(packed, false, false))) {
            long[] iovas = {Rig.DATA, 0xdead_0000L, Rig.DATA + 8};
            int[] lengths = {2, 0, 2};
            rig.memory.copyIn(Rig.DATA, new byte[] {1, 2});
            rig.memory.copyIn(Rig.DATA + 8, new byte[] {3, 4});
            DescriptorChain chain = rig.popOne(iovas, lengths, 3, 0);
            assertThat(chain.bufferCount()).isEqualTo(3);
            // The empty buffer's address is never translated (it is unmapped).
            assertThat(chain.reader().readIntLe()).isEqualTo(MemorySegment.ofArray(new byte[] {1, 2, 3, 4})
                    .get(Layouts.LE32.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
        }
    }
}
