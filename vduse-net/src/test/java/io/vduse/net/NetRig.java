package io.vduse.net;

import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import java.time.Duration;

/**
 * Two {@link VirtioNetDevice}s on the simulated kernel wired by a {@link VirtualCable}, each with
 * a {@link GuestNic} driving it: {@code a} on the left end, {@code b} on the right.
 */
final class NetRig implements AutoCloseable {

    final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    final VirtualCable cable = new VirtualCable();
    final VirtioNetDevice a;
    final VirtioNetDevice b;
    final GuestNic nicA;
    final GuestNic nicB;

    NetRig(boolean packed, long maskA, long maskB) throws Exception {
        a = VirtioNetDevice.start(NetOptions.of("neta").withPackedRing(packed).withQueueSize(64), cable.left(), kernel);
        b = VirtioNetDevice.start(NetOptions.of("netb").withPackedRing(packed).withQueueSize(64), cable.right(), kernel);
        nicA = new GuestNic(kernel, "neta", SimulatedDriver.Options.defaults().withQueueSize(64).withFeatureMask(maskA));
        nicB = new GuestNic(kernel, "netb", SimulatedDriver.Options.defaults().withQueueSize(64).withFeatureMask(maskB));
    }

    NetRig(boolean packed) throws Exception {
        this(packed, -1L, -1L);
    }

    /** Waits until device {@code device} holds {@code count} receive buffers. */
    static void awaitHeld(VirtioNetDevice device, int count) throws InterruptedException {
        GuestNic.await(() -> device.heldReceiveBuffers() == count);
    }

    @Override
    public void close() throws io.vduse.core.ErrnoException, io.vduse.core.VduseException {
        try {
            nicA.close(); // the drivers first, as vdpa dev del does before the device goes
            nicB.close();
        } finally {
            a.close();
            b.close();
        }
    }
}
