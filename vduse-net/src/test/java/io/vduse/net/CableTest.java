package io.vduse.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.net.GuestNic.Received;
import io.vduse.net.NetCounters.Counter;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Frames through two devices and the cable between them, both ways, on split and packed rings. */
class CableTest {

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void framesCrossTheCableBothWaysByteForByte(boolean packed) throws Exception {
        try (NetRig rig = new NetRig(packed)) {
            assertThat(VirtioFeatures.has(rig.nicA.driver.negotiatedFeatures(), VirtioFeatures.RING_PACKED)).isEqualTo(packed);
            rig.nicA.postReceiveBuffers(8, 2048);
            rig.nicB.postReceiveBuffers(8, 2048);
            NetRig.awaitHeld(rig.a, 8);
            NetRig.awaitHeld(rig.b, 8);
            MacAddress macA = rig.a.options().mac();
            MacAddress macB = rig.b.options().mac();

            byte[][] toB = {Frames.frame(macB, macA, 60, 1), Frames.frame(macB, macA, 1514, 2), Frames.frame(macB, macA, 14, 3)};
            byte[][] toA = {Frames.frame(macA, macB, 100, 4), Frames.frame(macA, macB, 1000, 5)};
            for (byte[] f : toB) {
                assertThat(rig.nicA.send(f).usedLength()).isZero();
            }
            for (byte[] f : toA) {
                rig.nicB.send(f);
            }

            List<Received> atB = rig.nicB.awaitReceived(3);
            List<Received> atA = rig.nicA.awaitReceived(2);
            assertThat(atB).extracting(Received::frame).containsExactly(toB);
            assertThat(atA).extracting(Received::frame).containsExactly(toA);
            assertThat(atB).allSatisfy(r -> {
                assertThat(r.numBuffers()).isEqualTo(1);
                assertThat(r.flags()).isZero();
                assertThat(r.gsoType()).isZero();
            });
            assertThat(rig.a.counters().get(Counter.TX_FRAMES)).isEqualTo(3);
            assertThat(rig.a.counters().get(Counter.TX_BYTES)).isEqualTo(60 + 1514 + 14);
            assertThat(rig.b.counters().get(Counter.RX_FRAMES)).isEqualTo(3);
            assertThat(rig.b.counters().get(Counter.RX_BYTES)).isEqualTo(60 + 1514 + 14);
            assertThat(rig.a.counters().get(Counter.RX_FRAMES)).isEqualTo(2);
            assertThat(rig.a.counters().dropped() + rig.b.counters().dropped()).isZero();
            assertThat(rig.nicA.driver.strayCompletions(VirtioNet.RX_QUEUE)).isZero();
            assertThat(rig.nicB.driver.strayCompletions(VirtioNet.RX_QUEUE)).isZero();
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void offloadHeadersPassThroughToADriverThatAcceptedThem(boolean packed) throws Exception {
        try (NetRig rig = new NetRig(packed)) {
            rig.nicB.postReceiveBuffers(4, 4096);
            NetRig.awaitHeld(rig.b, 4);
            byte[] tcp = Frames.frame(rig.b.options().mac(), rig.a.options().mac(), 3000, 9);
            // A TSO frame: headers of 54 bytes, 1448-byte segments, the TCP checksum at 34 + 16.
            rig.nicA.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, VirtioNet.GSO_TCPV4, 54, 1448, 34, 16), tcp);
            byte[] udp = Frames.partial(Frames.udpFrame(rig.b.options().mac(), rig.a.options().mac(), 100));
            rig.nicA.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 6), udp);

            List<Received> got = rig.nicB.awaitReceived(2);

            assertThat(got.get(0)).usingRecursiveComparison().isEqualTo(new Received(VirtioNet.HDR_F_NEEDS_CSUM, VirtioNet.GSO_TCPV4, 54, 1448, 34,
                    16, 1, tcp));
            assertThat(got.get(1).frame()).as("the partial checksum is the receiver's to finish").isEqualTo(udp);
            assertThat(got.get(1).flags()).isEqualTo(VirtioNet.HDR_F_NEEDS_CSUM);
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void mergeableBuffersCarryAFrameAcrossSeveralBuffersInOrder(boolean packed) throws Exception {
        try (NetRig rig = new NetRig(packed)) {
            assertThat(VirtioFeatures.has(rig.nicB.driver.negotiatedFeatures(), VirtioNet.F_MRG_RXBUF)).isTrue();
            rig.nicB.postReceiveBuffers(10, 1024);
            NetRig.awaitHeld(rig.b, 10);
            byte[] big = Frames.frame(rig.b.options().mac(), rig.a.options().mac(), 3000, 7); // 3012 with the header: 3 buffers
            byte[] small = Frames.frame(rig.b.options().mac(), rig.a.options().mac(), 500, 8);
            rig.nicA.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, VirtioNet.GSO_TCPV4, 54, 1448, 34, 16), big);
            rig.nicA.send(small);

            List<Received> got = rig.nicB.awaitReceived(4);

            assertThat(got).hasSize(2);
            assertThat(got.get(0).numBuffers()).isEqualTo(3);
            assertThat(got.get(0).frame()).isEqualTo(big);
            assertThat(got.get(0).gsoType()).isEqualTo(VirtioNet.GSO_TCPV4);
            assertThat(got.get(1).numBuffers()).isEqualTo(1);
            assertThat(got.get(1).frame()).isEqualTo(small);
            assertThat(rig.b.heldReceiveBuffers()).isEqualTo(6);
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void withoutMergeableBuffersAFrameTooBigForTheBufferIsDroppedAndCountedAndTheBufferKept(boolean packed)
            throws Exception {
        long noMergeable = ~VirtioFeatures.bit(VirtioNet.F_MRG_RXBUF);
        try (NetRig rig = new NetRig(packed, -1L, noMergeable)) {
            assertThat(VirtioFeatures.has(rig.nicB.driver.negotiatedFeatures(), VirtioNet.F_MRG_RXBUF)).isFalse();
            rig.nicB.postReceiveBuffers(1, 1526);
            rig.nicB.postReceiveChain(VirtioNet.HDR_SIZE, 3000); // header and data apart, as a driver may
            NetRig.awaitHeld(rig.b, 2);
            MacAddress a = rig.a.options().mac();
            MacAddress b = rig.b.options().mac();
            byte[] tooBig = Frames.frame(b, a, 2000, 1);
            byte[] fits = Frames.frame(b, a, 1514, 2);
            byte[] second = Frames.frame(b, a, 2000, 3);

            rig.nicA.send(tooBig); // does not fit the first buffer, which is kept
            rig.nicA.send(fits);
            rig.nicA.send(second); // into the chain of two buffers

            List<Received> got = rig.nicB.awaitReceived(2);
            assertThat(got).extracting(Received::frame).containsExactly(fits, second);
            assertThat(got).extracting(Received::numBuffers).containsOnly(1);
            assertThat(rig.b.counters().get(Counter.RX_DROPPED_TOO_BIG)).isEqualTo(1);
            assertThat(rig.b.counters().get(Counter.RX_FRAMES)).isEqualTo(2);
            // The sender took all three: the drop is the receiver's, and counted there.
            assertThat(rig.a.counters().get(Counter.TX_DROPPED_BACKEND)).isEqualTo(1);
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void anExhaustedReceiveRingDropsAndCountsAndServesOnOnceRefilled(boolean packed) throws Exception {
        try (NetRig rig = new NetRig(packed)) {
            rig.nicB.postReceiveBuffers(2, 2048);
            NetRig.awaitHeld(rig.b, 2);
            MacAddress a = rig.a.options().mac();
            MacAddress b = rig.b.options().mac();
            for (int i = 0; i < 3; i++) {
                rig.nicA.send(Frames.frame(b, a, 200, i));
            }
            assertThat(rig.b.counters().get(Counter.RX_DROPPED_NO_BUFFER)).isEqualTo(1);
            assertThat(rig.nicB.awaitReceived(2)).extracting(Received::frame)
                    .containsExactly(Frames.frame(b, a, 200, 0), Frames.frame(b, a, 200, 1));

            // A mergeable frame needing more buffers than are held is dropped whole, none used.
            rig.nicB.postReceiveBuffers(2, 256);
            NetRig.awaitHeld(rig.b, 2);
            rig.nicA.send(Frames.frame(b, a, 1000, 5));
            assertThat(rig.b.counters().get(Counter.RX_DROPPED_NO_BUFFER)).isEqualTo(2);
            assertThat(rig.b.heldReceiveBuffers()).isEqualTo(2);
            rig.nicA.send(Frames.frame(b, a, 400, 6));
            assertThat(rig.nicB.awaitReceived(4)).extracting(Received::frame)
                    .containsExactly(Frames.frame(b, a, 200, 0), Frames.frame(b, a, 200, 1), Frames.frame(b, a, 400, 6));
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void aDriverWithoutGuestCsumGetsTheChecksumCompletedAndNoSegmentationOffload(boolean packed) throws Exception {
        long noGuestOffloads = ~(VirtioFeatures.bit(VirtioNet.F_GUEST_CSUM) | VirtioFeatures.bit(VirtioNet.F_GUEST_TSO4)
                | VirtioFeatures.bit(VirtioNet.F_GUEST_TSO6));
        try (NetRig rig = new NetRig(packed, -1L, noGuestOffloads)) {
            rig.nicB.postReceiveBuffers(4, 4096);
            NetRig.awaitHeld(rig.b, 4);
            MacAddress a = rig.a.options().mac();
            MacAddress b = rig.b.options().mac();
            byte[] whole = Frames.udpFrame(b, a, 301);
            rig.nicA.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 6), Frames.partial(whole));
            rig.nicA.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, VirtioNet.GSO_TCPV4, 54, 1448, 34, 16),
                    Frames.frame(b, a, 3000, 1));

            List<Received> got = rig.nicB.awaitReceived(1);
            assertThat(got.get(0).frame()).isEqualTo(whole);
            assertThat(got.get(0).flags()).isZero();
            assertThat(rig.b.counters().get(Counter.RX_CHECKSUMS_COMPLETED)).isEqualTo(1);
            assertThat(rig.b.counters().get(Counter.RX_DROPPED_OFFLOAD)).isEqualTo(1);
            assertThat(rig.b.heldReceiveBuffers()).isEqualTo(3);
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void aFrameIntoACableWithNothingOnTheOtherEndIsCountedByTheCable(boolean packed) throws Exception {
        SimulatedKernel kernel = new SimulatedKernel();
        VirtualCable cable = new VirtualCable();
        try (VirtioNetDevice a = VirtioNetDevice.start(NetOptions.of("alone").withPackedRing(packed), cable.left(), kernel);
                GuestNic nic = new GuestNic(kernel, "alone", SimulatedDriver.Options.defaults().withQueueSize(64))) {
            nic.send(Frames.frame(MacAddress.parse("02:00:00:00:00:02"), a.options().mac(), 60, 1));
            assertThat(cable.undeliveredFromLeft()).isEqualTo(1);
            assertThat(a.counters().get(Counter.TX_DROPPED_BACKEND)).isEqualTo(1);
            assertThat(a.counters().get(Counter.TX_FRAMES)).isZero();
        }
    }
}
