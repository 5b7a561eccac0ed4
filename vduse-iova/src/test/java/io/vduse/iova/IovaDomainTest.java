package io.vduse.iova;

import static io.vduse.iova.IovaDomain.PAGE_SIZE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class IovaDomainTest {

    private static final long BOUNCE = 16 * PAGE_SIZE;
    private static final long COHERENT = 16 * PAGE_SIZE;

    private final Arena arena = Arena.ofConfined();
    private final IovaDomain domain = new IovaDomain(BOUNCE, COHERENT);

    @AfterEach
    void close() {
        domain.close();
        arena.close();
    }

    /** A driver buffer of {@code size} random bytes. */
    private MemorySegment buffer(long size, long seed) {
        MemorySegment s = arena.allocate(size);
        SplittableRandom random = new SplittableRandom(seed);
        for (long i = 0; i < size; i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) random.nextInt());
        }
        return s;
    }

    private MemorySegment bounce(long iova, long size) {
        return domain.memory().segment().asSlice(iova, size);
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    @ParameterizedTest
    @EnumSource(DmaDirection.class)
    void mapCopiesIntoTheBouncePageOnlyTowardsTheDevice(DmaDirection direction) {
        MemorySegment original = buffer(6000, 1);

        long iova = domain.mapPage(original, direction);

        assertThat(iova).isNotZero().isLessThan(BOUNCE);
        assertThat(iova % PAGE_SIZE).isZero();
        byte[] expected = direction.copiesToDevice() ? bytes(original) : new byte[6000];
        assertThat(bytes(bounce(iova, 6000))).isEqualTo(expected);
    }

    @ParameterizedTest
    @EnumSource(DmaDirection.class)
    void unmapCopiesBackOnlyFromTheDevice(DmaDirection direction) {
        MemorySegment original = buffer(5000, 2);
        byte[] before = bytes(original);
        long iova = domain.mapPage(original, direction);
        byte[] written = bytes(buffer(5000, 3));
        MemorySegment.copy(MemorySegment.ofArray(written), 0, bounce(iova, 5000), 0, 5000);

        domain.unmapPage(iova, 5000, direction);

        assertThat(bytes(original)).isEqualTo(direction.copiesFromDevice() ? written : before);
        assertThat(domain.streamingMappings()).isZero();
    }

    @ParameterizedTest
    @EnumSource(DmaDirection.class)
    void syncCopiesAPartOfTheMappingEachWay(DmaDirection direction) {
        MemorySegment original = buffer(3 * PAGE_SIZE, 4);
        long iova = domain.mapPage(original, direction);
        long at = PAGE_SIZE - 100;
        long size = 300;

        // The driver changes its buffer, then hands part of it to the device.
        MemorySegment.copy(buffer(3 * PAGE_SIZE, 5), 0, original, 0, 3 * PAGE_SIZE);
        byte[] bounceBefore = bytes(bounce(iova, 3 * PAGE_SIZE));
        domain.syncForDevice(iova + at, size, direction);
        byte[] bounceAfter = bytes(bounce(iova, 3 * PAGE_SIZE));
        byte[] expectedBounce = bounceBefore.clone();
        if (direction.copiesToDevice()) {
            System.arraycopy(bytes(original), (int) at, expectedBounce, (int) at, (int) size);
        }
        assertThat(bounceAfter).isEqualTo(expectedBounce);

        // The device writes the bounce page, then the driver takes part of it back.
        MemorySegment.copy(buffer(3 * PAGE_SIZE, 6), 0, bounce(iova, 3 * PAGE_SIZE), 0, 3 * PAGE_SIZE);
        byte[] originalBefore = bytes(original);
        domain.syncForCpu(iova + at, size, direction);
        byte[] expectedOriginal = originalBefore.clone();
        if (direction.copiesFromDevice()) {
            System.arraycopy(bytes(bounce(iova, 3 * PAGE_SIZE)), (int) at, expectedOriginal, (int) at, (int) size);
        }
        assertThat(bytes(original)).isEqualTo(expectedOriginal);
    }

    @Test
    void syncOutsideAStreamingMappingIsRejectedButCoherentIsANoOp() {
        long iova = domain.mapPage(buffer(100, 7), DmaDirection.TO_DEVICE);
        CoherentBuffer ring = domain.allocCoherent(64);

        assertThatThrownBy(() -> domain.syncForDevice(iova + 50, 51, DmaDirection.TO_DEVICE))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.syncForCpu(iova + PAGE_SIZE, 1, DmaDirection.FROM_DEVICE))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.syncForCpu(iova, 0, DmaDirection.FROM_DEVICE))
                .isInstanceOf(IllegalArgumentException.class);
        domain.syncForDevice(ring.iova(), 64, DmaDirection.TO_DEVICE);
    }

    @Test
    void theBounceRegionIsOneReadWriteEntryAtOffsetZeroAddedOnFirstMap() {
        assertThat(domain.findMapping(0, BOUNCE - 1)).isEmpty();

        long a = domain.mapPage(buffer(10, 8), DmaDirection.TO_DEVICE);
        long b = domain.mapPage(buffer(10, 9), DmaDirection.FROM_DEVICE);

        DomainMapping entry = domain.findMapping(b, b).orElseThrow();
        assertThat(entry.start()).isZero();
        assertThat(entry.last()).isEqualTo(BOUNCE - 1);
        assertThat(entry.offset()).isZero();
        assertThat(entry.access()).isEqualTo(Access.READ_WRITE);
        assertThat(domain.findMapping(a, a)).contains(entry);
    }

    @Test
    void resetDropsTheBounceEntryUntilTheNextMap() {
        assertThat(domain.resetBounceMap()).isFalse();
        long iova = domain.mapPage(buffer(10, 10), DmaDirection.TO_DEVICE);

        assertThat(domain.resetBounceMap()).isTrue();

        assertThat(domain.findMapping(0, BOUNCE - 1)).isEmpty();
        domain.unmapPage(iova, 10, DmaDirection.TO_DEVICE);
        domain.mapPage(buffer(10, 11), DmaDirection.TO_DEVICE);
        assertThat(domain.findMapping(0, 0)).isPresent();
    }

    @Test
    void coherentEntriesSitAboveTheBounceRegionWithFileOffsetEqualToIova() {
        CoherentBuffer ring = domain.allocCoherent(3000);

        assertThat(ring.iova()).isGreaterThanOrEqualTo(BOUNCE).isLessThan(BOUNCE + COHERENT);
        DomainMapping entry = domain.findMapping(ring.iova() + 10, ring.iova() + 20).orElseThrow();
        assertThat(entry.start()).isEqualTo(ring.iova());
        assertThat(entry.last()).isEqualTo(ring.iova() + 2999);
        assertThat(entry.offset()).isEqualTo(ring.iova());
        assertThat(entry.access()).isEqualTo(Access.READ_WRITE);
        assertThat(entry.memory()).isSameAs(domain.memory());
        assertThat(entry.memory().fd()).as("arena memory has no file").isEqualTo(-1);

        // The driver's writes are the device's reads: same bytes of the domain file.
        ring.memory().set(ValueLayout.JAVA_INT_UNALIGNED, 100, 0xcafe);
        assertThat(entry.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 100)).isEqualTo(0xcafe);
    }

    @Test
    void coherentMemoryIsReusedZeroedAfterFree() {
        CoherentBuffer first = domain.allocCoherent(PAGE_SIZE);
        first.memory().fill((byte) 0x5a);
        domain.freeCoherent(first);
        assertThat(domain.findMapping(first.iova(), first.iova())).isEmpty();

        CoherentBuffer second = domain.allocCoherent(PAGE_SIZE);

        assertThat(second.iova()).isEqualTo(first.iova());
        assertThat(bytes(second.memory())).containsOnly(0);
        assertThat(domain.findMapping(second.iova(), second.iova())).isPresent();
    }

    @Test
    void coherentRegionExhaustsWithATypedError() {
        for (int i = 0; i < 16; i++) {
            domain.allocCoherent(PAGE_SIZE);
        }
        assertThatThrownBy(() -> domain.allocCoherent(1)).isInstanceOf(IovaExhaustedException.class);
        assertThatThrownBy(() -> domain.allocCoherent(COHERENT + 1)).isInstanceOf(IovaExhaustedException.class);
    }

    @Test
    void bounceRegionExhaustsWithATypedErrorAndNeverHandsOutZero() {
        // Page 0 is never handed out: 15 pages of the 16 are usable.
        for (int i = 0; i < 15; i++) {
            assertThat(domain.mapPage(buffer(PAGE_SIZE, i), DmaDirection.TO_DEVICE)).isNotZero();
        }
        assertThatThrownBy(() -> domain.mapPage(buffer(1, 99), DmaDirection.TO_DEVICE))
                .isInstanceOf(IovaExhaustedException.class);
        assertThatThrownBy(() -> domain.mapPage(arena.allocate(BOUNCE + 1), DmaDirection.TO_DEVICE))
                .isInstanceOf(IovaExhaustedException.class);
    }

    @Test
    void misuseOfTheDmaApiIsRejected() {
        long iova = domain.mapPage(buffer(100, 12), DmaDirection.TO_DEVICE);
        CoherentBuffer ring = domain.allocCoherent(100);

        assertThatThrownBy(() -> domain.mapPage(MemorySegment.NULL, DmaDirection.TO_DEVICE))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.mapPage(buffer(8, 1).asReadOnly(), DmaDirection.FROM_DEVICE))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.unmapPage(iova, 99, DmaDirection.TO_DEVICE))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.unmapPage(iova, 100, DmaDirection.FROM_DEVICE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mapped TO_DEVICE");
        assertThatThrownBy(() -> domain.unmapPage(iova + PAGE_SIZE, 100, DmaDirection.TO_DEVICE))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.freeCoherent(ring.iova(), 99)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.freeCoherent(0, BOUNCE)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.allocCoherent(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.findMapping(2, 1)).isInstanceOf(IllegalArgumentException.class);

        domain.unmapPage(iova, 100, DmaDirection.TO_DEVICE);
        assertThatThrownBy(() -> domain.unmapPage(iova, 100, DmaDirection.TO_DEVICE))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void rejectsBadGeometryAndMemoryOfTheWrongSize() {
        assertThatThrownBy(() -> new IovaDomain(PAGE_SIZE, PAGE_SIZE)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new IovaDomain(3 * PAGE_SIZE + 1, PAGE_SIZE)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new IovaDomain(2 * PAGE_SIZE, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new IovaDomain(2 * PAGE_SIZE, PAGE_SIZE, size -> new ArenaDomainMemory(size - PAGE_SIZE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needed");
    }

    @Test
    void userBouncePagesTakeOverThePagesInUseAndEveryLaterCopy() {
        MemorySegment written = buffer(6000, 7);
        long toDevice = domain.mapPage(written, DmaDirection.TO_DEVICE); // in use: two pages
        MemorySegment readBack = arena.allocate(3000);
        long fromDevice = domain.mapPage(readBack, DmaDirection.FROM_DEVICE);
        long done = domain.mapPage(buffer(100, 8), DmaDirection.TO_DEVICE);
        domain.unmapPage(done, 100, DmaDirection.TO_DEVICE); // its page is no longer in use
        bounce(fromDevice, 3000).fill((byte) 0x11); // the device answered before the switch
        MemorySegment user = arena.allocate(BOUNCE, PAGE_SIZE);

        domain.addUserBouncePages(user);

        assertThat(domain.hasUserBouncePages()).isTrue();
        assertThat(bytes(user.asSlice(toDevice, 6000))).isEqualTo(bytes(written));
        assertThat(bytes(user.asSlice(fromDevice, 3000))).containsOnly((byte) 0x11);
        assertThat(bytes(user.asSlice(done, PAGE_SIZE))).as("a page not in use is not copied").containsOnly((byte) 0);
        assertThat(bytes(bounce(0, BOUNCE))).as("the domain's own pages are stale")
                .containsOnly(IovaDomain.STALE_BOUNCE_BYTE);
        // Every copy now goes through the user pages; the IOTLB entry stays the domain's file.
        user.asSlice(fromDevice, 3000).fill((byte) 0x22);
        domain.unmapPage(fromDevice, 3000, DmaDirection.FROM_DEVICE);
        assertThat(bytes(readBack)).containsOnly((byte) 0x22);
        MemorySegment later = buffer(500, 9);
        long laterIova = domain.mapPage(later, DmaDirection.TO_DEVICE);
        assertThat(bytes(user.asSlice(laterIova, 500))).isEqualTo(bytes(later));
        assertThat(domain.findMapping(0, 0).orElseThrow().memory()).isSameAs(domain.memory());
    }

    @Test
    void removingUserBouncePagesCopiesThePagesInUseBack() {
        MemorySegment user = arena.allocate(BOUNCE, PAGE_SIZE);
        MemorySegment readBack = arena.allocate(5000);
        domain.mapPage(buffer(10, 1), DmaDirection.TO_DEVICE);
        domain.addUserBouncePages(user);
        long iova = domain.mapPage(readBack, DmaDirection.FROM_DEVICE);
        user.asSlice(iova, 5000).fill((byte) 0x33); // the device writes its own memory

        assertThat(domain.removeUserBouncePages()).isTrue();

        assertThat(domain.hasUserBouncePages()).isFalse();
        assertThat(bytes(bounce(iova, 5000))).containsOnly((byte) 0x33);
        domain.unmapPage(iova, 5000, DmaDirection.FROM_DEVICE);
        assertThat(bytes(readBack)).containsOnly((byte) 0x33);
        assertThat(domain.removeUserBouncePages()).as("nothing left to remove").isFalse();
    }

    @Test
    void userBouncePagesMustCoverTheBounceRegionOnceAndOutliveAReset() {
        assertThatThrownBy(() -> domain.addUserBouncePages(arena.allocate(BOUNCE - PAGE_SIZE)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> domain.addUserBouncePages(arena.allocate(BOUNCE).asReadOnly()))
                .isInstanceOf(IllegalArgumentException.class);
        MemorySegment user = arena.allocate(BOUNCE, PAGE_SIZE);
        assertThat(domain.bounceMapped()).isFalse();
        domain.mapPage(buffer(10, 2), DmaDirection.TO_DEVICE);
        assertThat(domain.bounceMapped()).isTrue();
        domain.addUserBouncePages(user);
        assertThatThrownBy(() -> domain.addUserBouncePages(arena.allocate(BOUNCE)))
                .isInstanceOf(IllegalStateException.class);
        // A reset drops the bounce entry, not the user pages (vduse_dev_reset leaves dev->umem).
        assertThat(domain.resetBounceMap()).isTrue();
        assertThat(domain.bounceMapped()).isFalse();
        assertThat(domain.hasUserBouncePages()).isTrue();
    }

    @Test
    void aClosedDomainRefusesWork() {
        domain.close();
        assertThatThrownBy(() -> domain.allocCoherent(1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> domain.findMapping(0, 0)).isInstanceOf(IllegalStateException.class);
        domain.close();
    }
}
