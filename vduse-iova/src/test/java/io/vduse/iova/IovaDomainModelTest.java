package io.vduse.iova;

import static io.vduse.iova.IovaDomain.PAGE_SIZE;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Random sequences of streaming DMA operations on an {@link IovaDomain} against a model in
 * plain byte arrays: what the driver's buffer and what the device sees must match the model
 * byte for byte after every step. The model knows only the DMA rules: data moves towards the
 * device on map and sync-for-device if the direction sends it, back on unmap and sync-for-cpu
 * if the direction returns it, and nowhere else.
 */
class IovaDomainModelTest {

    private static final long BOUNCE = 32 * PAGE_SIZE;

    /** One live mapping: the driver's buffer, and the model of both sides. */
    private static final class Live {
        final long iova;
        final MemorySegment original;
        final DmaDirection direction;
        final byte[] driverView;
        final byte[] deviceView;

        Live(long iova, MemorySegment original, DmaDirection direction, byte[] driverView, byte[] deviceView) {
            this.iova = iova;
            this.original = original;
            this.direction = direction;
            this.driverView = driverView;
            this.deviceView = deviceView;
        }
    }

    @Test
    void streamingMappingsMoveDataOnlyAsTheirDirectionSays() {
        SeededCases.run(300, random -> {
            try (Arena arena = Arena.ofConfined(); IovaDomain domain = new IovaDomain(BOUNCE, PAGE_SIZE)) {
                List<Live> live = new ArrayList<>();
                for (int step = 0; step < 60; step++) {
                    step(random, arena, domain, live);
                    for (Live l : live) {
                        assertThat(l.original.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(l.driverView);
                        assertThat(device(domain, l).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(l.deviceView);
                    }
                    assertThat(domain.streamingMappings()).isEqualTo(live.size());
                }
            }
        });
    }

    private static MemorySegment device(IovaDomain domain, Live l) {
        return domain.memory().segment().asSlice(l.iova, l.driverView.length);
    }

    private static byte[] randomBytes(SplittableRandom random, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) random.nextInt();
        }
        return b;
    }

    private static void step(SplittableRandom random, Arena arena, IovaDomain domain, List<Live> live) {
        int what = live.isEmpty() ? 0 : random.nextInt(6);
        switch (what) {
            case 0 -> {
                int size = 1 + random.nextInt(3 * (int) PAGE_SIZE);
                DmaDirection direction = DmaDirection.values()[random.nextInt(3)];
                byte[] data = randomBytes(random, size);
                MemorySegment original = arena.allocate(size);
                MemorySegment.copy(MemorySegment.ofArray(data), 0, original, 0, size);
                long iova;
                try {
                    iova = domain.mapPage(original, direction);
                } catch (IovaExhaustedException full) {
                    return;
                }
                // Whatever the bounce page held before, from an earlier mapping or zeros.
                byte[] deviceView = domain.memory().segment().asSlice(iova, size).toArray(ValueLayout.JAVA_BYTE);
                if (direction.copiesToDevice()) {
                    deviceView = data.clone();
                }
                live.add(new Live(iova, original, direction, data, deviceView));
            }
            case 1 -> {
                // The driver writes its buffer.
                Live l = live.get(random.nextInt(live.size()));
                byte[] data = randomBytes(random, l.driverView.length);
                System.arraycopy(data, 0, l.driverView, 0, data.length);
                MemorySegment.copy(MemorySegment.ofArray(data), 0, l.original, 0, data.length);
            }
            case 2 -> {
                // The device writes the bounce page.
                Live l = live.get(random.nextInt(live.size()));
                byte[] data = randomBytes(random, l.deviceView.length);
                System.arraycopy(data, 0, l.deviceView, 0, data.length);
                MemorySegment.copy(MemorySegment.ofArray(data), 0, device(domain, l), 0, data.length);
            }
            case 3, 4 -> {
                Live l = live.get(random.nextInt(live.size()));
                int from = random.nextInt(l.driverView.length);
                int size = 1 + random.nextInt(l.driverView.length - from);
                if (what == 3) {
                    domain.syncForDevice(l.iova + from, size, l.direction);
                    if (l.direction.copiesToDevice()) {
                        System.arraycopy(l.driverView, from, l.deviceView, from, size);
                    }
                } else {
                    domain.syncForCpu(l.iova + from, size, l.direction);
                    if (l.direction.copiesFromDevice()) {
                        System.arraycopy(l.deviceView, from, l.driverView, from, size);
                    }
                }
            }
            default -> {
                Live l = live.remove(random.nextInt(live.size()));
                domain.unmapPage(l.iova, l.driverView.length, l.direction);
                if (l.direction.copiesFromDevice()) {
                    System.arraycopy(l.deviceView, 0, l.driverView, 0, l.driverView.length);
                }
                assertThat(l.original.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(l.driverView);
            }
        }
    }
}
