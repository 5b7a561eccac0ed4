package io.vduse.iova;

import static io.vduse.iova.PatternSource.patternAt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.iova.PatternSource.Region;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AddressSpaceTest {

    /** Three adjacent regions, then a hole, then a write-only one at the top of the space. */
    private final PatternSource source = new PatternSource(List.of(
            new Region(0x1000, 0x1fff, Access.READ),
            new Region(0x2000, 0x27ff, Access.READ_WRITE),
            new Region(0x2800, 0x3fff, Access.READ_WRITE),
            new Region(-0x1000L, -1L, Access.WRITE)));
    private final AddressSpace space = new AddressSpace(source);
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        space.close();
        assertThat(source.liveCount()).as("every resolved mapping released").isZero();
        arena.close();
    }

    private static IovaFault.Reason reason(Runnable r) {
        try {
            r.run();
        } catch (IovaFault f) {
            return f.reason();
        }
        throw new AssertionError("no fault");
    }

    @Test
    void translatesAndCachesOneMappingPerEntry() {
        Mapping m = space.mapping(0x1234, Access.READ);

        assertThat(m.start()).isEqualTo(0x1000);
        assertThat(m.last()).isEqualTo(0x1fff);
        assertThat(m.memory().get(ValueLayout.JAVA_BYTE, m.offsetOf(0x1234))).isEqualTo(patternAt(0x1234));
        assertThat(space.mapping(0x1fff, Access.READ)).isSameAs(m);
        assertThat(space.mapping(0x1000, Access.READ)).isSameAs(m);
        assertThat(source.resolves).hasValue(1);
    }

    @Test
    void unmappedAddressesFaultWithoutCaching() {
        assertThat(reason(() -> space.mapping(0xfff, Access.READ))).isEqualTo(IovaFault.Reason.UNMAPPED);
        assertThat(reason(() -> space.mapping(0x4000, Access.READ))).isEqualTo(IovaFault.Reason.UNMAPPED);
        assertThat(reason(() -> space.mapping(Long.MIN_VALUE, Access.READ))).isEqualTo(IovaFault.Reason.UNMAPPED);
        assertThat(space.cachedMappings()).isEmpty();
    }

    @Test
    void readOnlyMappingsRefuseWritesTwice() {
        assertThat(reason(() -> space.mapping(0x1800, Access.WRITE))).isEqualTo(IovaFault.Reason.PERMISSION);
        assertThat(reason(() -> space.mapping(0x1800, Access.READ_WRITE))).isEqualTo(IovaFault.Reason.PERMISSION);
        assertThat(reason(() -> space.writeBytes(0x1800, arena.allocate(4)))).isEqualTo(IovaFault.Reason.PERMISSION);

        // Defense in depth: even the memory handed out for reading cannot be written.
        Mapping m = space.mapping(0x1800, Access.READ);
        assertThat(m.memory().isReadOnly()).isTrue();
        assertThatThrownBy(() -> m.memory().set(ValueLayout.JAVA_BYTE, 0, (byte) 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("read-only");
    }

    @Test
    void writeOnlyMappingsRefuseReads() {
        assertThat(reason(() -> space.mapping(-1L, Access.READ))).isEqualTo(IovaFault.Reason.PERMISSION);
        assertThat(reason(() -> space.readBytes(-16L, arena.allocate(16)))).isEqualTo(IovaFault.Reason.PERMISSION);
        space.writeBytes(-16L, arena.allocate(16));
        assertThat(space.mapping(-1L, Access.WRITE).access()).isEqualTo(Access.WRITE);
    }

    @Test
    void aBufferSpanningThreeMappingsIsGatheredWithoutGaps() {
        IovaPieces pieces = new IovaPieces(4);

        int n = space.gather(0x1ff0, 0x2000, Access.READ, pieces);

        assertThat(n).isEqualTo(3);
        assertThat(pieces.mapping(0).start()).isEqualTo(0x1000);
        assertThat(pieces.offset(0)).isEqualTo(0xff0);
        assertThat(pieces.length(0)).isEqualTo(0x10);
        assertThat(pieces.mapping(1).start()).isEqualTo(0x2000);
        assertThat(pieces.offset(1)).isZero();
        assertThat(pieces.length(1)).isEqualTo(0x800);
        assertThat(pieces.mapping(2).start()).isEqualTo(0x2800);
        assertThat(pieces.length(2)).isEqualTo(0x2000 - 0x10 - 0x800);
        assertThatThrownBy(() -> pieces.mapping(3)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> new IovaPieces(0)).isInstanceOf(IllegalArgumentException.class);
        // Reuse: a second fill replaces the first.
        assertThat(space.gather(0x2000, 1, Access.READ, pieces)).isEqualTo(1);
        assertThat(pieces.count()).isEqualTo(1);
        assertThat(space.pieces(0x1ff0, 0x2000, Access.READ))
                .extracting(IovaPiece::offset, IovaPiece::length)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(0xff0L, 0x10L),
                        org.assertj.core.groups.Tuple.tuple(0L, 0x800L),
                        org.assertj.core.groups.Tuple.tuple(0L, 0x17f0L));
    }

    @Test
    void readBytesCrossesMappingsAndReadsThePattern() {
        MemorySegment into = arena.allocate(0x2100);

        space.readBytes(0x1f00, into);

        for (long i = 0; i < into.byteSize(); i++) {
            assertThat(into.get(ValueLayout.JAVA_BYTE, i)).as("byte at 0x%x", 0x1f00 + i).isEqualTo(patternAt(0x1f00 + i));
        }
    }

    @Test
    void writeBytesCrossesMappingsAndReadsBack() {
        MemorySegment data = arena.allocate(0x900);
        for (long i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7));
        }

        space.writeBytes(0x2400, data);

        MemorySegment back = arena.allocate(0x900);
        space.readBytes(0x2400, back);
        assertThat(back.mismatch(data)).isEqualTo(-1);
        assertThat(space.gather(0x2400, 0x900, Access.READ_WRITE, new IovaPieces(2))).isEqualTo(2);
    }

    @Test
    void buffersThatCannotBeTranslatedFaultWithTheirReason() {
        IovaPieces two = new IovaPieces(2);
        assertThat(reason(() -> space.gather(0x1000, 0, Access.READ, two))).isEqualTo(IovaFault.Reason.ZERO_LENGTH);
        assertThat(reason(() -> space.gather(-8L, 9, Access.WRITE, two))).isEqualTo(IovaFault.Reason.OVERFLOW);
        assertThat(reason(() -> space.gather(2, -1L, Access.READ, two))).isEqualTo(IovaFault.Reason.OVERFLOW);
        // [1, 2^64 - 1] is 2^64 - 1 bytes and does not wrap: it fails only for lack of mappings.
        assertThat(reason(() -> space.gather(1, -1L, Access.READ, two))).isEqualTo(IovaFault.Reason.UNMAPPED);
        assertThat(reason(() -> space.gather(0x1000, 0x3000, Access.READ, two))).isEqualTo(IovaFault.Reason.NOT_CONTIGUOUS);
        assertThat(reason(() -> space.gather(0x3ff0, 0x20, Access.READ, two))).isEqualTo(IovaFault.Reason.UNMAPPED);
        assertThat(reason(() -> space.slice(0x1ff0, 0x20, Access.READ))).isEqualTo(IovaFault.Reason.NOT_CONTIGUOUS);
        assertThat(reason(() -> space.readBytes(0x3ff0, arena.allocate(0x20)))).isEqualTo(IovaFault.Reason.UNMAPPED);
        assertThat(reason(() -> space.readBytes(0x1000, MemorySegment.NULL))).isEqualTo(IovaFault.Reason.ZERO_LENGTH);
        // The whole top mapping, exactly, is fine: last = 2^64 - 1 does not overflow.
        assertThat(space.gather(-0x1000L, 0x1000, Access.WRITE, two)).isEqualTo(1);
    }

    @Test
    void invalidateDropsAndReleasesOverlappingMappingsWhole() {
        Mapping a = space.mapping(0x1000, Access.READ);
        Mapping b = space.mapping(0x2000, Access.READ);
        Mapping c = space.mapping(0x2800, Access.READ);

        assertThat(space.invalidate(0x1fff, 0x2000)).as("released").isEqualTo(2);

        assertThat(source.releases).hasValue(2);
        assertThat(space.cachedMappings()).containsExactly(c);
        // Released memory fails cleanly, never crashes.
        assertThatThrownBy(() -> b.memory().get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> a.memory().get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        // The next translation asks the source again.
        assertThat(space.mapping(0x1000, Access.READ)).isNotSameAs(a);
        assertThat(source.resolves).hasValue(4);
        assertThat(space.invalidate(0x100000, 0x1fffff)).as("nothing mapped there").isZero();
        assertThat(source.releases).hasValue(2);
        assertThatThrownBy(() -> space.invalidate(2, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aFreshAnswerOverlappingAStaleMappingReplacesIt() {
        Mapping old = space.mapping(0x2000, Access.READ);
        // The kernel merged two entries; its UPDATE_IOTLB has not arrived yet.
        source.setLayout(List.of(new Region(0x2000, 0x3fff, Access.READ_WRITE)));

        Mapping fresh = space.mapping(0x3000, Access.READ);

        assertThat(fresh.start()).isEqualTo(0x2000);
        assertThat(space.cachedMappings()).containsExactly(fresh);
        assertThat(space.mapping(0x2000, Access.READ)).isSameAs(fresh);
        // Another queue may still be in a request on the old memory: it stays mapped ...
        assertThat(old.memory().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo(patternAt(0x2000));
        assertThat(source.releases).hasValue(0);
        // ... until the next invalidation, whatever its range (the device holds its queues then).
        assertThat(space.invalidate(0x100000, 0x100fff)).as("the displaced mapping").isEqualTo(1);
        assertThat(source.releases).hasValue(1);
        assertThatThrownBy(() -> old.memory().get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThat(space.cachedMappings()).containsExactly(fresh);
    }

    @Test
    void aSourceAnsweringTheWrongRangeIsAnErrorNotACacheEntry() {
        MappingSource liar = new MappingSource() {
            @Override
            public Optional<Mapping> resolve(long iova) {
                return Optional.of(new Mapping(iova + 1, iova + 1, Access.READ, MemorySegment.ofArray(new byte[1])));
            }

            @Override
            public void release(Mapping mapping) {}
        };
        try (AddressSpace s = new AddressSpace(liar)) {
            assertThatThrownBy(() -> s.mapping(0x1000, Access.READ))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("0x1000");
            assertThat(s.cachedMappings()).isEmpty();
        }
    }

    @Test
    void aClosedSpaceReleasedEverythingAndRefusesTranslations() {
        space.mapping(0x1000, Access.READ);
        space.mapping(0x2000, Access.READ);

        space.close();

        assertThat(source.liveCount()).isZero();
        assertThatThrownBy(() -> space.mapping(0x1000, Access.READ)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void endToEndThroughAnIovaDomain() {
        try (IovaDomain domain = new IovaDomain(8 * IovaDomain.PAGE_SIZE, 8 * IovaDomain.PAGE_SIZE);
                AddressSpace device = new AddressSpace(domain.mappingSource())) {
            // The driver offers a request to read and a buffer to fill.
            MemorySegment request = arena.allocateFrom("read sector 7");
            long requestIova = domain.mapPage(request, DmaDirection.TO_DEVICE);
            MemorySegment reply = arena.allocate(32);
            long replyIova = domain.mapPage(reply, DmaDirection.FROM_DEVICE);
            CoherentBuffer ring = domain.allocCoherent(256);

            MemorySegment seen = arena.allocate(request.byteSize());
            device.readBytes(requestIova, seen);
            assertThat(seen.getString(0)).isEqualTo("read sector 7");
            device.writeBytes(replyIova, arena.allocateFrom("sector 7 data"));
            device.writeBytes(ring.iova() + 8, arena.allocateFrom("used"));
            domain.unmapPage(replyIova, 32, DmaDirection.FROM_DEVICE);

            assertThat(reply.getString(0)).isEqualTo("sector 7 data");
            assertThat(ring.memory().getString(8)).isEqualTo("used");
        }
    }
}
