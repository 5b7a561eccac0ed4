package io.vduse.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.net.GuestNic.Received;
import io.vduse.net.NetCounters.Counter;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A process serving a device on a cable stops and leaves the device in the kernel, as a killed
 * one does; a second one takes it over ({@link NetOptions#withReconnect}) with the driver never
 * reset, and frames pass both ways again.
 */
class ReconnectTest {

    @ParameterizedTest(name = "packed ring {0}")
    @ValueSource(booleans = {false, true})
    void aProcessTakingTheDeviceOverServesBothWaysWithTheDriverUntouched(boolean packed) throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
        VirtualCable cable = new VirtualCable();
        NetOptions options = NetOptions.of("netr").withPackedRing(packed).withQueueSize(64);
        SimulatedDriver.Options driverOptions = SimulatedDriver.Options.defaults().withQueueSize(64);
        VirtioNetDevice one = VirtioNetDevice.start(options, cable.left(), kernel);
        VirtioNetDevice peer = VirtioNetDevice.start(NetOptions.of("netp").withPackedRing(packed).withQueueSize(64),
                cable.right(), kernel);
        GuestNic nic = new GuestNic(kernel, "netr", driverOptions);
        GuestNic peerNic = new GuestNic(kernel, "netp", driverOptions);
        VirtioNetDevice two = null;
        try {
            MacAddress r = options.mac();
            MacAddress p = peer.options().mac();
            byte[] before = Frames.frame(r, p, 100, 1);
            nic.postReceiveBuffers(1, 2048);
            NetRig.awaitHeld(one, 1);
            peerNic.send(before);
            assertThat(nic.awaitReceived(1)).extracting(Received::frame).containsExactly(before);

            one.detach();
            assertThat(kernel.deviceExists("netr")).as("the device stays in the kernel").isTrue();
            two = VirtioNetDevice.start(options.withReconnect(true), cable.left(), kernel);
            assertThat(two.reconnected()).isTrue();

            byte[] after = Frames.frame(r, p, 200, 2);
            nic.postReceiveBuffers(1, 2048);
            NetRig.awaitHeld(two, 1);
            peerNic.send(after);
            assertThat(nic.awaitReceived(2)).extracting(Received::frame).containsExactly(before, after);

            byte[] back = Frames.frame(p, r, 300, 3);
            peerNic.postReceiveBuffers(1, 2048);
            NetRig.awaitHeld(peer, 1);
            nic.send(back);
            assertThat(peerNic.awaitReceived(1)).extracting(Received::frame).containsExactly(back);
            assertThat(two.counters().get(Counter.TX_FRAMES)).isEqualTo(1);
            assertThat(two.counters().get(Counter.RX_FRAMES)).isEqualTo(1);
        } finally {
            nic.close(); // the drivers first, as vdpa dev del does before the device goes
            peerNic.close();
            if (two != null) {
                two.close();
            }
            one.close();
            peer.close();
        }
    }
}
