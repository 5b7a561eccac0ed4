package io.vduse.virtqueue;

import static io.vduse.api.virtio.SplitRing.DESC_F_INDIRECT;
import static io.vduse.api.virtio.SplitRing.DESC_F_NEXT;
import static io.vduse.api.virtio.SplitRing.DESC_F_WRITE;
import static io.vduse.virtqueue.BadInputTestSupport.HOLE;
import static io.vduse.virtqueue.BadInputTestSupport.READ_ONLY;
import static io.vduse.virtqueue.BadInputTestSupport.WRITE_ONLY;
import static io.vduse.virtqueue.BadInputTestSupport.accessFails;
import static io.vduse.virtqueue.BadInputTestSupport.popFails;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.VqState;
import io.vduse.iova.IovaFault;
import io.vduse.virtqueue.VirtqueueException.Reason;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Each way a driver can break a split ring, one test each. */
class SplitBadInputTest {

    private static final int SIZE = 8;
    private static final long BUF = Rig.DATA;
    private static final long TABLE = Rig.TABLES;

    private static Rig rig() {
        return BadInputTestSupport.rig(false, SIZE, true);
    }

    @Test
    void headIndexOutOfRange() {
        try (Rig rig = rig()) {
            new RawRing(rig).avail(SIZE);
            VirtqueueException e = popFails(rig, Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE);
            assertThat(e).hasMessageContaining("descriptor 8 in a queue of size 8");
        }
    }

    @Test
    void nextIndexOutOfRange() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, BUF, 16, DESC_F_NEXT, 0xffff).avail(0);
            assertThat(popFails(rig, Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE)).hasMessageContaining("65535");
        }
    }

    @Test
    void loopInNextChain() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, BUF, 16, DESC_F_NEXT, 1).split(1, BUF, 16, DESC_F_NEXT, 2)
                    .split(2, BUF, 16, DESC_F_NEXT, 1).avail(0);
            assertThat(popFails(rig, Reason.DESCRIPTOR_LOOP)).hasMessageContaining("descriptor 1");
        }
    }

    @Test
    void selfLoop() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(3, BUF, 16, DESC_F_NEXT, 3).avail(3);
            popFails(rig, Reason.DESCRIPTOR_LOOP);
        }
    }

    @Test
    void chainLongerThanQueueSizeThroughIndirectTable() {
        try (Rig rig = rig()) {
            RawRing raw = new RawRing(rig);
            for (int i = 0; i <= SIZE; i++) {
                raw.splitTable(TABLE, i, BUF, 16, DESC_F_NEXT, i + 1);
            }
            raw.split(0, TABLE, 16L * (SIZE + 1), DESC_F_INDIRECT, 0).avail(0);
            assertThat(popFails(rig, Reason.CHAIN_TOO_LONG)).hasMessageContaining("9 entries");
        }
    }

    @Test
    void directPrefixPlusTableLongerThanQueueSize() {
        try (Rig rig = rig()) {
            RawRing raw = new RawRing(rig);
            for (int i = 0; i < SIZE; i++) {
                raw.splitTable(TABLE, i, BUF, 16, i < SIZE - 1 ? DESC_F_NEXT : 0, i + 1);
            }
            // One direct buffer, then a full-size table: SIZE + 1 buffers.
            raw.split(0, BUF, 16, DESC_F_NEXT, 1).split(1, TABLE, 16L * SIZE, DESC_F_INDIRECT, 0).avail(0);
            popFails(rig, Reason.CHAIN_TOO_LONG);
        }
    }

    @Test
    void indirectInsideIndirect() {
        try (Rig rig = rig()) {
            new RawRing(rig).splitTable(TABLE, 0, BUF, 16, DESC_F_NEXT, 1)
                    .splitTable(TABLE, 1, TABLE + 256, 32, DESC_F_INDIRECT, 0)
                    .split(0, TABLE, 32, DESC_F_INDIRECT, 0).avail(0);
            assertThat(popFails(rig, Reason.NESTED_INDIRECT)).hasMessageContaining("entry 1");
        }
    }

    @Test
    void indirectTableOfLengthZero() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, TABLE, 0, DESC_F_INDIRECT, 0).avail(0);
            popFails(rig, Reason.INDIRECT_TABLE_EMPTY);
        }
    }

    @Test
    void indirectTableNotAMultipleOf16() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, TABLE, 24, DESC_F_INDIRECT, 0).avail(0);
            assertThat(popFails(rig, Reason.INDIRECT_TABLE_MISALIGNED)).hasMessageContaining("24");
        }
    }

    @Test
    void indirectWithNext() {
        try (Rig rig = rig()) {
            new RawRing(rig).splitTable(TABLE, 0, BUF, 16, 0, 0)
                    .split(0, TABLE, 16, DESC_F_INDIRECT | DESC_F_NEXT, 1).split(1, BUF, 16, 0, 0).avail(0);
            popFails(rig, Reason.INDIRECT_WITH_NEXT);
        }
    }

    @Test
    void indirectWithoutTheFeature() {
        try (Rig rig = BadInputTestSupport.rig(false, SIZE, false)) {
            new RawRing(rig).splitTable(TABLE, 0, BUF, 16, 0, 0).split(0, TABLE, 16, DESC_F_INDIRECT, 0).avail(0);
            popFails(rig, Reason.INDIRECT_NOT_NEGOTIATED);
        }
    }

    @Test
    void loopInsideIndirectTable() {
        try (Rig rig = rig()) {
            new RawRing(rig).splitTable(TABLE, 0, BUF, 16, DESC_F_NEXT, 1).splitTable(TABLE, 1, BUF, 16, DESC_F_NEXT, 0)
                    .split(0, TABLE, 32, DESC_F_INDIRECT, 0).avail(0);
            popFails(rig, Reason.DESCRIPTOR_LOOP);
        }
    }

    @Test
    void nextOutsideIndirectTable() {
        try (Rig rig = rig()) {
            new RawRing(rig).splitTable(TABLE, 0, BUF, 16, DESC_F_NEXT, 2).split(0, TABLE, 32, DESC_F_INDIRECT, 0).avail(0);
            assertThat(popFails(rig, Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE)).hasMessageContaining("table of 2");
        }
    }

    @Test
    void readableAfterWritable() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, BUF, 16, DESC_F_WRITE | DESC_F_NEXT, 1).split(1, BUF + 16, 16, 0, 0).avail(0);
            popFails(rig, Reason.READABLE_AFTER_WRITABLE);
        }
    }

    @Test
    void readableAfterWritableInsideIndirectTable() {
        try (Rig rig = rig()) {
            new RawRing(rig).splitTable(TABLE, 0, BUF, 16, DESC_F_WRITE | DESC_F_NEXT, 1)
                    .splitTable(TABLE, 1, BUF + 16, 16, 0, 0).split(0, TABLE, 32, DESC_F_INDIRECT, 0).avail(0);
            popFails(rig, Reason.READABLE_AFTER_WRITABLE);
        }
    }

    @Test
    void availIndexMoreThanQueueSizeAhead() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, BUF, 16, 0, 0).avail(0).availIdx(SIZE + 1);
            assertThat(popFails(rig, Reason.AVAIL_INDEX_TOO_FAR)).hasMessageContaining("available idx 9");
        }
    }

    @Test
    void availIndexGoingBackwards() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, BUF, 16, 0, 0).avail(0, 0, 0);
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            assertThat(rig.device.pop(chain)).isTrue();
            assertThat(rig.device.pop(chain)).isTrue();
            new RawRing(rig).availIdx(1);
            popFails(rig, Reason.AVAIL_INDEX_TOO_FAR);
        }
    }

    @Test
    void lengthsAddingUpPastTwoToThe32() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, BUF, 0x8000_0000L, DESC_F_NEXT, 1).split(1, BUF, 0x8000_0000L, DESC_F_WRITE, 0).avail(0);
            assertThat(popFails(rig, Reason.LENGTH_OVERFLOW)).hasMessageContaining("4294967296");
        }
    }

    @Test
    void addressPlusLengthWrapping() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, 0xffff_ffff_ffff_fff0L, 0x20, 0, 0).avail(0);
            popFails(rig, Reason.ADDRESS_OVERFLOW);
        }
    }

    @Test
    void indirectTableUnmapped() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, HOLE, 32, DESC_F_INDIRECT, 0).avail(0);
            VirtqueueException e = popFails(rig, Reason.IOVA_FAULT);
            assertThat(e.getCause()).isInstanceOfSatisfying(IovaFault.class,
                    f -> assertThat(f.reason()).isEqualTo(IovaFault.Reason.UNMAPPED));
        }
    }

    @Test
    void indirectTableNotReadable() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, WRITE_ONLY, 32, DESC_F_INDIRECT, 0).avail(0);
            VirtqueueException e = popFails(rig, Reason.IOVA_FAULT);
            assertThat(((IovaFault) e.getCause()).reason()).isEqualTo(IovaFault.Reason.PERMISSION);
        }
    }

    @Test
    void readableBufferUnmapped() {
        try (Rig rig = rig(); Arena arena = Arena.ofConfined()) {
            new RawRing(rig).split(0, HOLE, 64, 0, 0).avail(0);
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            MemorySegment sink = arena.allocate(64);
            VirtqueueException e = accessFails(rig, chain, () -> chain.reader().read(sink, 0, 64));
            assertThat(((IovaFault) e.getCause()).reason()).isEqualTo(IovaFault.Reason.UNMAPPED);
            assertThat(e).hasMessageContaining("0x700000");
        }
    }

    @Test
    void readableBufferRunningIntoAHole() {
        try (Rig rig = rig(); Arena arena = Arena.ofConfined()) {
            // The last 16 bytes of the read-only page, then 16 unmapped bytes.
            new RawRing(rig).split(0, READ_ONLY + 4096 - 16, 32, 0, 0).avail(0);
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            MemorySegment sink = arena.allocate(32);
            accessFails(rig, chain, () -> chain.reader().read(sink, 0, 32));
        }
    }

    @Test
    void readableBufferNotReadable() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, WRITE_ONLY, 8, 0, 0).avail(0);
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            VirtqueueException e = accessFails(rig, chain, () -> chain.reader().readLongLe());
            assertThat(((IovaFault) e.getCause()).reason()).isEqualTo(IovaFault.Reason.PERMISSION);
        }
    }

    @Test
    void writableBufferNotWritable() {
        try (Rig rig = rig()) {
            new RawRing(rig).split(0, READ_ONLY, 8, DESC_F_WRITE, 0).avail(0);
            byte[][] before = rig.memory.snapshot();
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            VirtqueueException e = accessFails(rig, chain, () -> chain.writer().writeIntLe(42));
            assertThat(((IovaFault) e.getCause()).reason()).isEqualTo(IovaFault.Reason.PERMISSION);
            assertThat(rig.memory.changedOutside(before)).isEqualTo(-1);
        }
    }

    @Test
    void resetClearsTheFailure() {
        try (Rig rig = rig()) {
            new RawRing(rig).avail(SIZE);
            popFails(rig, Reason.DESCRIPTOR_INDEX_OUT_OF_RANGE);
            new RawRing(rig).split(2, BUF, 16, 0, 0).avail(2);
            rig.device.reset(new VqState.Split(0));
            assertThat(rig.device.failure()).isNull();
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            assertThat(chain.id()).isEqualTo(2);
        }
    }

    @Test
    void restoredStateTooFarFromUsedIndex() {
        try (Rig rig = rig()) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> rig.reconnect(new VqState.Split(SIZE + 1)))
                    .isInstanceOfSatisfying(VirtqueueException.class, e -> assertThat(e.reason()).isEqualTo(Reason.BAD_STATE));
        }
    }
}
