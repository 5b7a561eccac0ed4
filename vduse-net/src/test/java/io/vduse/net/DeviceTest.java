package io.vduse.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.net.GuestNic.Received;
import io.vduse.net.NetCounters.Counter;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One device as its driver sees it: the config space and features, link changes, transmit
 * chains a driver should not send, and a reset while receive buffers wait.
 */
class DeviceTest {

    @Test
    void theConfigSpaceHoldsMacLinkStateOneQueuePairAndMtuAndTheFeaturesAreNegotiated() throws Exception {
        try (NetRig rig = new NetRig(false)) {
            ByteBuffer config = ByteBuffer.wrap(rig.nicA.driver.config()).order(ByteOrder.LITTLE_ENDIAN);
            byte[] mac = new byte[6];
            config.get(VirtioNet.CONFIG_MAC, mac);
            assertThat(mac).isEqualTo(rig.a.options().mac().bytes());
            assertThat(config.getShort(VirtioNet.CONFIG_STATUS)).isEqualTo((short) VirtioNet.S_LINK_UP);
            assertThat(config.getShort(VirtioNet.CONFIG_MAX_VIRTQUEUE_PAIRS)).isEqualTo((short) 1);
            assertThat(config.getShort(VirtioNet.CONFIG_MTU)).isEqualTo((short) 1500);

            long negotiated = rig.nicA.driver.negotiatedFeatures();
            for (int bit : new int[] {VirtioFeatures.VERSION_1, VirtioFeatures.ACCESS_PLATFORM, VirtioNet.F_MAC,
                    VirtioNet.F_MTU, VirtioNet.F_STATUS, VirtioNet.F_CSUM, VirtioNet.F_GUEST_CSUM, VirtioNet.F_HOST_TSO4,
                    VirtioNet.F_HOST_TSO6, VirtioNet.F_GUEST_TSO4, VirtioNet.F_GUEST_TSO6, VirtioNet.F_MRG_RXBUF,
                    VirtioFeatures.EVENT_IDX}) {
                assertThat(VirtioFeatures.has(negotiated, bit)).as("feature bit %d", bit).isTrue();
            }
            for (int bit : new int[] {VirtioNet.F_CTRL_VQ, VirtioNet.F_MQ, VirtioFeatures.RING_PACKED}) {
                assertThat(VirtioFeatures.has(negotiated, bit)).as("feature bit %d", bit).isFalse();
            }
        }
    }

    @Test
    void theOptionsSetMacAndMtu() throws Exception {
        var kernel = new io.vduse.core.sim.SimulatedKernel();
        NetOptions options = NetOptions.of("netmtu").withMac(MacAddress.parse("52:54:00:ab:cd:ef")).withMtu(9000);
        try (VirtioNetDevice device = VirtioNetDevice.start(options, new VirtualCable().left(), kernel);
                GuestNic nic = new GuestNic(kernel, "netmtu", io.vduse.core.sim.SimulatedDriver.Options.defaults())) {
            ByteBuffer config = ByteBuffer.wrap(nic.driver.config()).order(ByteOrder.LITTLE_ENDIAN);
            assertThat(Short.toUnsignedInt(config.getShort(VirtioNet.CONFIG_MTU))).isEqualTo(9000);
            assertThat(config.get(0)).isEqualTo((byte) 0x52);
            assertThat(config.get(5)).isEqualTo((byte) 0xef);
            assertThat(device.toString()).contains("52:54:00:ab:cd:ef");
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void aLinkChangeIsAConfigInterruptAndDropsFramesWhileDown(boolean packed) throws Exception {
        try (NetRig rig = new NetRig(packed)) {
            rig.nicB.postReceiveBuffers(4, 2048);
            NetRig.awaitHeld(rig.b, 4);
            byte[] frame = Frames.frame(rig.b.options().mac(), rig.a.options().mac(), 100, 1);
            int before = rig.nicB.driver.configInterrupts();

            rig.b.setLinkUp(false);

            assertThat(rig.nicB.driver.configInterrupts()).isEqualTo(before + 1);
            assertThat(rig.nicB.driver.config()[VirtioNet.CONFIG_STATUS] & VirtioNet.S_LINK_UP).isZero();
            assertThat(rig.b.linkUp()).isFalse();
            rig.nicA.send(frame);
            rig.nicB.send(frame);
            assertThat(rig.b.counters().get(Counter.RX_DROPPED_LINK_DOWN)).isEqualTo(1);
            assertThat(rig.b.counters().get(Counter.TX_DROPPED_LINK_DOWN)).isEqualTo(1);

            rig.b.setLinkUp(true);

            assertThat(rig.nicB.driver.configInterrupts()).isEqualTo(before + 2);
            assertThat(rig.nicB.driver.config()[VirtioNet.CONFIG_STATUS] & VirtioNet.S_LINK_UP).isEqualTo(VirtioNet.S_LINK_UP);
            rig.nicA.send(frame);
            assertThat(rig.nicB.awaitReceived(1)).extracting(Received::frame).containsExactly(frame);
        }
    }

    @Test
    void aDeviceStartedWithTheLinkDownSaysSo() throws Exception {
        var kernel = new io.vduse.core.sim.SimulatedKernel();
        try (VirtioNetDevice device = VirtioNetDevice.start(NetOptions.of("netdown").withLinkUp(false),
                new VirtualCable().left(), kernel);
                GuestNic nic = new GuestNic(kernel, "netdown", io.vduse.core.sim.SimulatedDriver.Options.defaults())) {
            assertThat(nic.driver.config()[VirtioNet.CONFIG_STATUS]).isZero();
            assertThat(device.linkUp()).isFalse();
        }
    }

    /** A backend that keeps copies of what it is given. */
    private static final class Recorder implements NetBackend {
        final List<byte[]> frames = new ArrayList<>();

        @Override
        public void attach(FrameSink receiver) {}

        @Override
        public synchronized boolean transmit(VnetHeader header, MemorySegment frame) {
            frames.add(frame.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            return true;
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void malformedTransmitChainsAreDroppedAndCountedAndTheQueueServesOn(boolean packed) throws Exception {
        var kernel = new io.vduse.core.sim.SimulatedKernel();
        Recorder recorder = new Recorder();
        long noCsum = ~(VirtioFeatures.bit(VirtioNet.F_CSUM) | VirtioFeatures.bit(VirtioNet.F_HOST_TSO4)
                | VirtioFeatures.bit(VirtioNet.F_HOST_TSO6));
        try (VirtioNetDevice device = VirtioNetDevice.start(NetOptions.of("netbad").withPackedRing(packed), recorder, kernel);
                GuestNic nic = new GuestNic(kernel, "netbad",
                        io.vduse.core.sim.SimulatedDriver.Options.defaults().withFeatureMask(noCsum))) {
            MacAddress mac = device.options().mac();
            byte[] good = Frames.frame(mac, mac, 60, 1);
            byte[] empty = GuestNic.header(0, 0, 0, 0, 0, 0);

            nic.sendBuffers(List.of(empty, good), 64); // a writable buffer in a transmit chain
            nic.sendBuffers(List.of(empty)); // a header and no frame
            nic.sendBuffers(List.of(new byte[5])); // not even a header
            nic.sendBuffers(List.of(empty, new byte[13])); // shorter than an Ethernet header
            nic.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, 0, 0, 0, 14, 6), good); // CSUM not negotiated
            nic.send(GuestNic.header(0, VirtioNet.GSO_TCPV4, 54, 1448, 0, 0), good); // TSO not negotiated

            assertThat(device.counters().get(Counter.TX_DROPPED_MALFORMED)).isEqualTo(6);
            assertThat(recorder.frames).isEmpty();
            nic.send(good);
            assertThat(recorder.frames).containsExactly(good);
            assertThat(device.vduseDevice().queueRunning(VirtioNet.TX_QUEUE)).isTrue();
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void aTransmitHeaderClaimingALengthPastTheFrameIsDroppedAndCounted(boolean packed) throws Exception {
        var kernel = new io.vduse.core.sim.SimulatedKernel();
        Recorder recorder = new Recorder();
        try (VirtioNetDevice device = VirtioNetDevice.start(NetOptions.of("netpast").withPackedRing(packed), recorder, kernel);
                GuestNic nic = new GuestNic(kernel, "netpast", io.vduse.core.sim.SimulatedDriver.Options.defaults())) {
            MacAddress mac = device.options().mac();
            byte[] frame = Frames.frame(mac, mac, 100, 1);

            nic.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, 0, 0, 0, 90, 9), frame); // 90 + 9 + 2 > 100
            nic.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, VirtioNet.GSO_TCPV4, 101, 1448, 34, 16), frame);
            // The frame split over buffers whose lengths add up to less than the checksum's place.
            nic.sendBuffers(List.of(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16),
                    java.util.Arrays.copyOf(frame, 30), java.util.Arrays.copyOfRange(frame, 30, 50)));

            assertThat(device.counters().get(Counter.TX_DROPPED_PAST_END)).isEqualTo(3);
            assertThat(recorder.frames).isEmpty();
            nic.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, 0, 0, 0, 82, 16), frame); // 82 + 16 + 2 = 100: fits
            assertThat(recorder.frames).containsExactly(frame);
        }
    }

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void aResetGivesTheHeldReceiveBuffersBackAtOnceAndServesAgain(boolean packed) throws Exception {
        try (NetRig rig = new NetRig(packed)) {
            rig.nicB.postReceiveBuffers(16, 2048);
            NetRig.awaitHeld(rig.b, 16);

            rig.nicB.driver.reset();

            assertThat(rig.b.vduseDevice().cancelled(VirtioNet.RX_QUEUE)).isZero();
            assertThat(rig.b.heldReceiveBuffers()).isZero();
            rig.nicB.postReceiveBuffers(2, 2048);
            NetRig.awaitHeld(rig.b, 2);
            byte[] frame = Frames.frame(rig.b.options().mac(), rig.a.options().mac(), 70, 3);
            rig.nicA.send(frame);
            // The reset abandoned the old futures; the two new chains are the last posted.
            GuestNic.await(() -> rig.b.counters().get(Counter.RX_FRAMES) == 1);
            assertThat(rig.b.heldReceiveBuffers()).isEqualTo(1);
        }
    }
}
