package io.vduse.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.iova.DmaDirection;
import org.junit.jupiter.api.Test;

/**
 * Every benchmark sets up, runs a few ops and tears down, so that a change of the SDK that
 * breaks one shows in the build rather than in the next benchmark run. Checks results, never
 * timings.
 */
class BenchmarksSmokeTest {

    @Test
    void ringsPopAndPushEveryLayoutAndChainShape() {
        for (String layout : new String[] {"split", "packed"}) {
            for (int descriptors : new int[] {1, 3}) {
                for (String chains : new String[] {"direct", "indirect"}) {
                    RingBenchmark b = new RingBenchmark();
                    b.layout = layout;
                    b.descriptors = descriptors;
                    b.chains = chains;
                    b.setUp();
                    try {
                        // Several times round the ring, so that the indexes and wrap counters wrap.
                        for (int i = 0; i < 3 * RingBenchmark.QUEUE_SIZE; i++) {
                            b.single();
                        }
                        for (int i = 0; i < 3 * RingBenchmark.QUEUE_SIZE / RingBenchmark.BATCH; i++) {
                            b.batch32();
                        }
                    } finally {
                        b.tearDown();
                    }
                }
            }
        }
    }

    @Test
    void bothTranslationsAgree() {
        for (String kib : new String[] {"4", "1024", "1024+4"}) {
            IotlbBenchmark b = new IotlbBenchmark();
            b.entries = 256;
            b.entryKiB = kib;
            b.setUp();
            try {
                // One round of the 4096 addresses each: the same addresses, the same offsets.
                long[] offsets = new long[4096];
                for (int i = 0; i < offsets.length; i++) {
                    offsets[i] = b.addressSpace();
                    assertThat(offsets[i]).isBetween(0L, (1L << 20) - 1);
                }
                for (int i = 0; i < offsets.length; i++) {
                    assertThat(b.linearScan()).as("%s KiB, address %d", kib, i).isEqualTo(offsets[i]);
                }
            } finally {
                b.tearDown();
            }
        }
    }

    @Test
    void bounceMapsAndUnmaps() {
        BounceBenchmark b = new BounceBenchmark();
        b.size = 4096;
        b.direction = DmaDirection.FROM_DEVICE;
        b.setUp();
        try {
            for (int i = 0; i < 100; i++) {
                assertThat(b.mapUnmap()).isPositive();
            }
        } finally {
            b.tearDown();
        }
    }

    @Test
    void deviceSideBlockRequestsComplete() {
        for (String layout : new String[] {"split", "packed"}) {
            BlockDeviceSideBenchmark b = new BlockDeviceSideBenchmark();
            b.layout = layout;
            b.setUp();
            try {
                for (int i = 0; i < 1000; i++) {
                    assertThat(b.read4k()).isEqualTo(4097); // data and status written
                    assertThat(b.write4k()).isEqualTo(1); // status written
                }
            } finally {
                b.tearDown();
            }
        }
    }

    @Test
    void asyncBlockRequestsComplete() throws Exception {
        DeviceThreadAllocation device = new DeviceThreadAllocation();
        for (String layout : new String[] {"split", "packed"}) {
            AsyncBlockBenchmark b = new AsyncBlockBenchmark();
            b.layout = layout;
            b.setUp();
            try {
                device.startIteration();
                // Several times round the 256-entry ring.
                for (int i = 0; i < 600; i++) {
                    assertThat(b.read4k(device)).as(layout).isEqualTo(4097);
                }
                for (int i = 0; i < 20; i++) {
                    assertThat(b.read4kQd32(device)).as(layout).isEqualTo(AsyncBlockBenchmark.QUEUE_DEPTH * 4097);
                }
            } finally {
                b.tearDown();
            }
        }
    }

    @Test
    void simulatedBlockRequestsAndMessagesComplete() throws Exception {
        DeviceThreadAllocation device = new DeviceThreadAllocation();
        for (String kind : new String[] {"ram", "blk-file"}) {
            SimulatedBlockBenchmark b = new SimulatedBlockBenchmark();
            b.layout = "split";
            b.device = kind;
            b.setUp();
            try {
                device.startIteration();
                for (int i = 0; i < 50; i++) {
                    assertThat(b.read4k(device)).as(kind).isEqualTo(4097);
                    assertThat(b.write4k(device)).as(kind).isEqualTo(1);
                }
                assertThat(b.read4kQd32(device)).as(kind).isEqualTo(32 * 4097);
            } finally {
                b.tearDown();
            }
        }
        MessageBenchmark m = new MessageBenchmark();
        m.setUp();
        try {
            device.startIteration();
            for (int i = 0; i < 20; i++) {
                assertThat(m.getVqState(device)).isNotNull();
                m.updateIotlb(device);
            }
        } finally {
            m.tearDown();
        }
    }
}
