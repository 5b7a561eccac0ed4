package io.vduse.virtqueue;

import static io.vduse.api.virtio.PackedRing.DESC_F_INDIRECT;
import static io.vduse.api.virtio.PackedRing.DESC_F_NEXT;
import static io.vduse.api.virtio.PackedRing.DESC_F_WRITE;
import static io.vduse.virtqueue.BadInputTestSupport.HOLE;
import static io.vduse.virtqueue.BadInputTestSupport.READ_ONLY;
import static io.vduse.virtqueue.BadInputTestSupport.WRITE_ONLY;
import static io.vduse.virtqueue.BadInputTestSupport.accessFails;
import static io.vduse.virtqueue.BadInputTestSupport.popFails;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.VqState;
import io.vduse.iova.IovaFault;
import io.vduse.virtqueue.VirtqueueException.Reason;
import org.junit.jupiter.api.Test;

/**
 * Each way a driver can break a packed ring. A packed ring has no {@code next} field and no
 * available index, so out-of-range indexes, loops and a runaway available index take the form
 * of a chain that never ends.
 */
class PackedBadInputTest {

    private static final int SIZE = 5;
    private static final long BUF = Rig.DATA;
    private static final long TABLE = Rig.TABLES;

    private static Rig rig() {
        return BadInputTestSupport.rig(true, SIZE, true);
    }

    @Test
    void chainLongerThanQueueSize() {
        try (Rig rig = rig()) {
            RawRing raw = new RawRing(rig);
            // Every slot says "next": the chain would wrap around the ring forever.
            for (int i = 0; i < SIZE; i++) {
                raw.packed(BUF + 16L * i, 16, 0, DESC_F_NEXT);
            }
            assertThat(popFails(rig, Reason.CHAIN_TOO_LONG)).hasMessageContaining("5 descriptors");
        }
    }

    @Test
    void indirectTableLongerThanQueueSize() {
        try (Rig rig = rig()) {
            RawRing raw = new RawRing(rig);
            for (int i = 0; i <= SIZE; i++) {
                raw.packedTable(TABLE, i, BUF, 16, 0);
            }
            raw.packed(TABLE, 16L * (SIZE + 1), 0, DESC_F_INDIRECT);
            popFails(rig, Reason.CHAIN_TOO_LONG);
        }
    }

    @Test
    void indirectInsideIndirect() {
        try (Rig rig = rig()) {
            new RawRing(rig).packedTable(TABLE, 0, BUF, 16, 0).packedTable(TABLE, 1, TABLE + 256, 16, DESC_F_INDIRECT)
                    .packed(TABLE, 32, 0, DESC_F_INDIRECT);
            popFails(rig, Reason.NESTED_INDIRECT);
        }
    }

    @Test
    void indirectTableOfLengthZero() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(TABLE, 0, 0, DESC_F_INDIRECT);
            popFails(rig, Reason.INDIRECT_TABLE_EMPTY);
        }
    }

    @Test
    void indirectTableNotAMultipleOf16() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(TABLE, 40, 0, DESC_F_INDIRECT);
            popFails(rig, Reason.INDIRECT_TABLE_MISALIGNED);
        }
    }

    @Test
    void indirectWithNext() {
        try (Rig rig = rig()) {
            new RawRing(rig).packedTable(TABLE, 0, BUF, 16, 0).packed(TABLE, 16, 0, DESC_F_INDIRECT | DESC_F_NEXT)
                    .packed(BUF, 16, 0, 0);
            popFails(rig, Reason.INDIRECT_WITH_NEXT);
        }
    }

    @Test
    void indirectWithoutTheFeature() {
        try (Rig rig = BadInputTestSupport.rig(true, SIZE, false)) {
            new RawRing(rig).packedTable(TABLE, 0, BUF, 16, 0).packed(TABLE, 16, 0, DESC_F_INDIRECT);
            popFails(rig, Reason.INDIRECT_NOT_NEGOTIATED);
        }
    }

    @Test
    void readableAfterWritable() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(BUF, 16, 0, DESC_F_WRITE | DESC_F_NEXT).packed(BUF + 16, 16, 0, 0);
            popFails(rig, Reason.READABLE_AFTER_WRITABLE);
        }
    }

    @Test
    void readableAfterWritableInsideIndirectTable() {
        try (Rig rig = rig()) {
            new RawRing(rig).packedTable(TABLE, 0, BUF, 16, DESC_F_WRITE).packedTable(TABLE, 1, BUF, 16, 0)
                    .packed(TABLE, 32, 0, DESC_F_INDIRECT);
            popFails(rig, Reason.READABLE_AFTER_WRITABLE);
        }
    }

    @Test
    void lengthsAddingUpPastTwoToThe32() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(BUF, 0xffff_ffffL, 0, DESC_F_NEXT).packed(BUF, 1, 0, DESC_F_WRITE);
            popFails(rig, Reason.LENGTH_OVERFLOW);
        }
    }

    @Test
    void addressPlusLengthWrapping() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(-8, 16, 0, 0);
            popFails(rig, Reason.ADDRESS_OVERFLOW);
        }
    }

    @Test
    void indirectTableUnmapped() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(HOLE, 16, 0, DESC_F_INDIRECT);
            assertThat(((IovaFault) popFails(rig, Reason.IOVA_FAULT).getCause()).reason())
                    .isEqualTo(IovaFault.Reason.UNMAPPED);
        }
    }

    @Test
    void writableBufferNotWritable() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(READ_ONLY, 8, 3, DESC_F_WRITE);
            byte[][] before = rig.memory.snapshot();
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            assertThat(chain.id()).isEqualTo(3);
            VirtqueueException e = accessFails(rig, chain, () -> chain.writer().writeLongLe(7));
            assertThat(((IovaFault) e.getCause()).reason()).isEqualTo(IovaFault.Reason.PERMISSION);
            assertThat(rig.memory.changedOutside(before)).isEqualTo(-1);
        }
    }

    @Test
    void readableBufferNotReadable() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(WRITE_ONLY, 8, 0, 0);
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            accessFails(rig, chain, () -> chain.reader().readByte());
        }
    }

    @Test
    void restoredStateThatCannotBe() {
        try (Rig rig = rig()) {
            assertThatThrownBy(() -> rig.reconnect(new VqState.Packed(1, SIZE, 1, 0)))
                    .isInstanceOfSatisfying(VirtqueueException.class, e -> assertThat(e.reason()).isEqualTo(Reason.BAD_STATE));
            // Used position a lap and more behind the available one.
            assertThatThrownBy(() -> rig.reconnect(new VqState.Packed(0, 3, 1, 2)))
                    .isInstanceOfSatisfying(VirtqueueException.class, e -> assertThat(e.reason()).isEqualTo(Reason.BAD_STATE));
        }
    }

    @Test
    void resetClearsTheFailure() {
        try (Rig rig = rig()) {
            new RawRing(rig).packed(BUF, 16, 0, DESC_F_WRITE | DESC_F_NEXT).packed(BUF + 16, 16, 0, 0);
            popFails(rig, Reason.READABLE_AFTER_WRITABLE);
            rig.device.reset(new VqState.Packed(1, 1, 1, 1));
            DescriptorChain chain = rig.device.newChain();
            assertThat(rig.device.pop(chain)).isTrue();
            assertThat(chain.readableLength()).isEqualTo(16);
        }
    }
}
