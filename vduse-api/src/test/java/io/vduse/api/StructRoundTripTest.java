package io.vduse.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.virtio.VirtioBlkConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Every struct written and read back equals itself, for thousands of random values, and writing
 * leaves reserved fields and padding zero even over a dirty buffer (the kernel rejects non-zero
 * reserved words in several structs).
 */
class StructRoundTripTest {

    private static final int ROUNDS = 2_000;
    private final Random random = new Random(0x5eed_0001L);

    private MemorySegment dirty(Arena arena, long size) {
        MemorySegment s = arena.allocate(size);
        s.fill((byte) 0xa5);
        return s;
    }

    private String randomName() {
        int length = 1 + random.nextInt(Vduse.NAME_MAX - 1);
        StringBuilder b = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            b.append((char) ('a' + random.nextInt(26)));
        }
        return b.toString();
    }

    private byte[] randomBytes(int max) {
        byte[] bytes = new byte[random.nextInt(max + 1)];
        random.nextBytes(bytes);
        return bytes;
    }

    private int u16() {
        return random.nextInt(0x10000);
    }

    private VqState randomState(boolean packed) {
        return packed
                ? new VqState.Packed(random.nextInt(2), u16(), random.nextInt(2), u16())
                : new VqState.Split(u16());
    }

    @Test
    void devConfig() {
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < ROUNDS; i++) {
                VduseDevConfig c = new VduseDevConfig(randomName(), random.nextInt(), random.nextInt(),
                        random.nextLong(), random.nextInt(), random.nextInt(), random.nextInt(), random.nextInt(),
                        randomBytes(Vduse.CONFIG_SIZE_MAX));
                MemorySegment s = dirty(arena, c.byteSize());
                c.writeTo(s);
                assertThat(VduseDevConfig.readFrom(s)).isEqualTo(c);
                assertThat(VduseDevConfig.hasReservedBits(s)).isFalse();
                assertThat(s.get(Layouts.U8, VduseDevConfig.NAME + c.name().length())).isZero();
            }
        }
    }

    @Test
    void iotlbEntries() {
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < ROUNDS; i++) {
                VduseIotlbEntry e = new VduseIotlbEntry(random.nextLong(), random.nextLong(), random.nextLong(),
                        1 + random.nextInt(3));
                MemorySegment s = dirty(arena, VduseIotlbEntry.LAYOUT.byteSize());
                e.writeTo(s);
                assertThat(VduseIotlbEntry.readFrom(s)).isEqualTo(e);
                assertThat(s.asSlice(25, 7).toArray(Layouts.U8)).containsOnly(0);

                VduseIotlbEntryV2 v2 = new VduseIotlbEntryV2(e, random.nextInt());
                MemorySegment s2 = dirty(arena, VduseIotlbEntryV2.LAYOUT.byteSize());
                v2.writeTo(s2);
                assertThat(VduseIotlbEntryV2.readFrom(s2)).isEqualTo(v2);
                assertThat(s2.asSlice(VduseIotlbEntryV2.RESERVED, 44).toArray(Layouts.U8)).containsOnly(0);
            }
        }
    }

    @Test
    void configData() {
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < ROUNDS; i++) {
                byte[] data = randomBytes(256);
                VduseConfigData d = new VduseConfigData(random.nextInt(Vduse.CONFIG_SIZE_MAX - data.length + 1), data);
                MemorySegment s = dirty(arena, d.byteSize());
                d.writeTo(s);
                assertThat(VduseConfigData.readFrom(s)).isEqualTo(d);
            }
        }
    }

    @Test
    void vqConfigInfoAndEventfd() {
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < ROUNDS; i++) {
                VduseVqConfig c = new VduseVqConfig(random.nextInt(), u16(), random.nextInt());
                MemorySegment s = dirty(arena, VduseVqConfig.LAYOUT.byteSize());
                c.writeTo(s);
                assertThat(VduseVqConfig.readFrom(s)).isEqualTo(c);
                assertThat(s.get(Layouts.U16, 6)).isZero();
                assertThat(s.asSlice(12, 20).toArray(Layouts.U8)).containsOnly(0);

                boolean packed = random.nextBoolean();
                VduseVqInfo info = new VduseVqInfo(random.nextInt(), random.nextInt(), random.nextLong(),
                        random.nextLong(), random.nextLong(), randomState(packed), random.nextBoolean());
                MemorySegment si = dirty(arena, VduseVqInfo.LAYOUT.byteSize());
                info.writeTo(si);
                assertThat(VduseVqInfo.readFrom(si, packed)).isEqualTo(info);

                VduseVqEventfd e = new VduseVqEventfd(random.nextInt(), random.nextInt());
                MemorySegment se = dirty(arena, VduseVqEventfd.LAYOUT.byteSize());
                e.writeTo(se);
                assertThat(VduseVqEventfd.readFrom(se)).isEqualTo(e);
            }
        }
    }

    @Test
    void umemAndIovaInfo() {
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < ROUNDS; i++) {
                VduseIovaUmem u = new VduseIovaUmem(random.nextLong(), random.nextLong(), random.nextLong(),
                        random.nextInt());
                MemorySegment s = dirty(arena, VduseIovaUmem.LAYOUT.byteSize());
                u.writeTo(s);
                assertThat(VduseIovaUmem.readFrom(s)).isEqualTo(u);
                assertThat(s.asSlice(28, 20).toArray(Layouts.U8)).containsOnly(0);

                VduseIovaInfo info = new VduseIovaInfo(random.nextLong(), random.nextLong(), random.nextLong(),
                        random.nextInt());
                MemorySegment si = dirty(arena, VduseIovaInfo.LAYOUT.byteSize());
                info.writeTo(si);
                assertThat(VduseIovaInfo.readFrom(si)).isEqualTo(info);
                assertThat(si.asSlice(28, 20).toArray(Layouts.U8)).containsOnly(0);
            }
        }
    }

    @Test
    void requestsAndResponses() {
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < ROUNDS; i++) {
                long api = random.nextBoolean() ? Vduse.API_VERSION_1 : Vduse.API_VERSION_0;
                int id = random.nextInt();
                VduseRequest request = switch (random.nextInt(7)) {
                    case 0 -> new VduseRequest.GetVqState(id, random.nextInt());
                    case 1 -> new VduseRequest.SetStatus(id, random.nextInt(256));
                    case 2 -> new VduseRequest.UpdateIotlb(id, random.nextLong(), random.nextLong(),
                            api == Vduse.API_VERSION_1 ? random.nextInt() : 0);
                    case 3 -> new VduseRequest.SetVqGroupAsid(id, random.nextInt(), random.nextInt());
                    case 4 -> new VduseRequest.SetVqReady(id, random.nextInt(), random.nextBoolean());
                    case 5 -> new VduseRequest.Suspend(id);
                    default -> new VduseRequest.Unknown(id, 6 + random.nextInt(1000));
                };
                MemorySegment s = dirty(arena, VduseDevRequest.SIZE);
                request.encode(s, api);
                assertThat(VduseRequest.decode(s, api)).isEqualTo(request);
                assertThat(s.asSlice(VduseDevRequest.RESERVED, 16).toArray(Layouts.U8)).containsOnly(0);

                boolean packed = random.nextBoolean();
                VduseResponse response = random.nextBoolean()
                        ? VduseResponse.vqState(id, random.nextInt(), randomState(packed))
                        : new VduseResponse(id, random.nextInt(2), 0, null);
                MemorySegment r = dirty(arena, VduseResponse.SIZE);
                response.writeTo(r);
                assertThat(VduseResponse.readFrom(r, response.state() != null, packed)).isEqualTo(response);
                assertThat(VduseResponse.hasReservedBits(r)).isFalse();
            }
        }
    }

    @Test
    void virtioBlkConfig() {
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < ROUNDS; i++) {
                VirtioBlkConfig c = new VirtioBlkConfig(random.nextLong(), random.nextInt(), random.nextInt(),
                        u16(), random.nextInt(256), random.nextInt(256), random.nextInt(), random.nextInt(256),
                        random.nextInt(256), u16(), random.nextInt(), random.nextInt(256), u16(), random.nextInt(),
                        random.nextInt(), random.nextInt(), random.nextInt(), random.nextInt(), random.nextInt(256),
                        random.nextInt(), random.nextInt(), random.nextInt());
                MemorySegment s = dirty(arena, VirtioBlkConfig.SIZE);
                c.writeTo(s);
                assertThat(VirtioBlkConfig.readFrom(s)).isEqualTo(c);
                assertThat(VirtioBlkConfig.readFrom(MemorySegment.ofArray(c.toBytes()))).isEqualTo(c);
                assertThat(s.get(Layouts.U8, 33)).isZero();
                assertThat(s.asSlice(57, 3).toArray(Layouts.U8)).containsOnly(0);
            }
        }
    }

    @Test
    void namesThatCannotReachTheKernelAreRefused() {
        assertThatThrownBy(() -> new VduseDevConfig("x".repeat(256), 0, 2, 0, 1, 4096, 0, 0, new byte[0]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most 255 bytes");
        assertThatThrownBy(() -> new VduseDevConfig("", 0, 2, 0, 1, 4096, 0, 0, new byte[0]))
                .hasMessageContaining("empty");
        assertThatThrownBy(() -> new VduseDevConfig("a\0b", 0, 2, 0, 1, 4096, 0, 0, new byte[0]))
                .hasMessageContaining("NUL");
        assertThat(new VduseDevConfig("x".repeat(255), 0, 2, 0, 1, 4096, 0, 0, new byte[0]).name()).hasSize(255);
    }

    @Test
    void configLargerThanTheKernelAcceptsIsRefusedNamingTheLimit() {
        assertThatThrownBy(() -> new VduseDevConfig("big", 0, 2, 0, 1, 4096, 0, 0, new byte[4097]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4097 bytes")
                .hasMessageContaining("at most 4096 bytes (PAGE_SIZE)");
        assertThat(new VduseDevConfig("fits", 0, 2, 0, 1, 4096, 0, 0, new byte[4096]).byteSize()).isEqualTo(336 + 4096);

        assertThatThrownBy(() -> new VduseConfigData(4000, new byte[97]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4096 bytes");

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(VduseDevConfig.CONFIG + 8);
            s.set(Layouts.U32, VduseDevConfig.CONFIG_SIZE, 1 << 20);
            assertThatThrownBy(() -> VduseDevConfig.readFrom(s))
                    .hasMessageContaining("at most 4096 bytes");
            s.set(Layouts.U32, VduseDevConfig.CONFIG_SIZE, 64);
            assertThatThrownBy(() -> VduseDevConfig.readFrom(s))
                    .hasMessageContaining("runs past the end");
        }
    }

    @Test
    void outOfRangeSixteenBitFieldsAreRefused() {
        assertThatThrownBy(() -> new VduseVqConfig(0, 0x10000, 0)).hasMessageContaining("max_size");
        assertThatThrownBy(() -> new VqState.Split(-1)).hasMessageContaining("avail_index");
        assertThatThrownBy(() -> new VqState.Packed(0, 0x10000, 0, 0)).hasMessageContaining("last_avail_idx");
    }
}
