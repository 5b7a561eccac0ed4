package io.vduse.net;

import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseDevice;
import io.vduse.core.VduseException;
import io.vduse.core.VduseKernel;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * A virtio-net device: receive queue 0 and transmit queue 1, each on its own thread, frames to
 * and from a {@link NetBackend}. It offers the MAC address, MTU and link state in its config
 * space, checksum and TCP segmentation offloads both ways (passed through to the backend in each
 * frame's {@link VnetHeader}), mergeable receive buffers, event-index notification and, if asked,
 * packed rings; never the control queue, which VDUSE refuses, so there is one queue pair.
 *
 * <pre>{@code
 * VirtualCable cable = new VirtualCable();
 * try (VirtioNetDevice a = VirtioNetDevice.start(NetOptions.of("net0"), cable.left(), VduseKernel.linux());
 *      VirtioNetDevice b = VirtioNetDevice.start(NetOptions.of("net1"), cable.right(), VduseKernel.linux())) {
 *     // vdpa dev add name net0 mgmtdev vduse; vdpa dev add name net1 mgmtdev vduse
 * }
 * }</pre>
 *
 * <p>The link starts as the backend's ({@link NetBackend#linkUp()}: a TAP's administrative
 * state) and follows it: a TAP set down on the host takes the driver's link down, with a config
 * interrupt, and up again.
 *
 * <p>Receive buffers wait in the device until a frame arrives; a frame that finds none, or none
 * big enough, is dropped and counted ({@link #counters()}), as is every transmit chain the
 * device refuses.
 */
public final class VirtioNetDevice implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(VirtioNetDevice.class.getName());

    /** The device features offered besides what the SDK always offers (VERSION_1, ACCESS_PLATFORM). */
    public static final long FEATURES = VirtioFeatures.bit(VirtioNet.F_MAC) | VirtioFeatures.bit(VirtioNet.F_MTU)
            | VirtioFeatures.bit(VirtioNet.F_STATUS) | VirtioFeatures.bit(VirtioNet.F_CSUM)
            | VirtioFeatures.bit(VirtioNet.F_GUEST_CSUM) | VirtioFeatures.bit(VirtioNet.F_HOST_TSO4)
            | VirtioFeatures.bit(VirtioNet.F_HOST_TSO6) | VirtioFeatures.bit(VirtioNet.F_GUEST_TSO4)
            | VirtioFeatures.bit(VirtioNet.F_GUEST_TSO6) | VirtioFeatures.bit(VirtioNet.F_MRG_RXBUF)
            | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX);

    private final NetOptions options;
    private final NetBackend backend;
    private final NetCounters counters = new NetCounters();
    private final LinkState link;
    private final Arena arena = Arena.ofShared();
    private final RxQueue rx;
    private final VduseDevice device;
    private boolean closed;
    /** Set once close begins: a link change the backend still tells is no longer passed on. */
    private boolean closing;

    private VirtioNetDevice(NetOptions options, NetBackend backend, VduseKernel kernel) throws VduseException {
        this.options = options;
        this.backend = backend;
        boolean backendUp = backend.linkUp();
        boolean up = options.linkUp() && backendUp;
        this.link = new LinkState(up);
        this.rx = new RxQueue(counters, link, arena, backend);
        TxQueue tx = new TxQueue(options.name(), counters, link, backend, arena);
        long features = FEATURES | (options.packedRing() ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        try {
            this.device = VduseDevice.builder(options.name())
                    .kernel(kernel)
                    .deviceId(VirtioDeviceId.NET)
                    .features(features)
                    .config(config(options, up))
                    .queues(2, options.queueSize())
                    .asyncHandlers(index -> index == VirtioNet.RX_QUEUE ? rx : tx)
                    .reconnect(options.reconnect())
                    .start();
        } catch (VduseException | RuntimeException e) {
            arena.close();
            throw e;
        }
        backend.attach(rx);
        if (device.reconnected()) {
            // The kernel kept the config space of the process before, link state and all: the
            // driver hears this one's (a TAP made anew starts down), with a config interrupt.
            tellDriver(up, "reconnected");
        }
        backend.watchLink(this::followBackend);
        // A change between the first look and the watch's start was told to nobody: look again.
        boolean backendNow = backend.linkUp();
        if (backendNow != backendUp) {
            followBackend(backendNow);
        }
    }

    /** The backend's link changed (a TAP set down or up on the host): so does the driver's. */
    private synchronized void followBackend(boolean up) {
        if (closing || up == link.up()) {
            return;
        }
        if (tellDriver(up, "following " + backend)) {
            LOG.log(Level.INFO, "{0}: link {1}, following {2}", options.name(), up ? "up" : "down", backend);
        }
    }

    /**
     * Sets the link and tells the driver; a refusal is logged with {@code why} the link changed
     * (the device goes on serving either way). Whether the driver was told.
     */
    private boolean tellDriver(boolean up, String why) {
        try {
            setLinkUp(up);
            return true;
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "{0}: link {1} ({2}), but the driver could not be told: {3}",
                    options.name(), up ? "up" : "down", why, e.getMessage());
            return false;
        }
    }

    /**
     * Creates the device in {@code kernel} and starts serving it with {@code backend}, which from
     * now on delivers its frames to the device.
     *
     * @throws VduseException saying why the kernel refused
     */
    public static VirtioNetDevice start(NetOptions options, NetBackend backend, VduseKernel kernel)
            throws VduseException {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(kernel, "kernel");
        return new VirtioNetDevice(options, backend, kernel);
    }

    /** The config space: mac, status, max_virtqueue_pairs 1, mtu. */
    static byte[] config(NetOptions options, boolean linkUp) {
        ByteBuffer config = ByteBuffer.allocate(VirtioNet.CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        config.put(VirtioNet.CONFIG_MAC, options.mac().bytes());
        config.putShort(VirtioNet.CONFIG_STATUS, (short) (linkUp ? VirtioNet.S_LINK_UP : 0));
        config.putShort(VirtioNet.CONFIG_MAX_VIRTQUEUE_PAIRS, (short) 1);
        config.putShort(VirtioNet.CONFIG_MTU, (short) options.mtu());
        return config.array();
    }

    /**
     * Sets the link up or down: the config space's {@code status} changes and the driver gets a
     * config interrupt (Linux's virtio_net then sets the carrier, which {@code ip link} shows).
     * While the link is down, frames either way are dropped and counted.
     *
     * @throws ErrnoException if the kernel refuses the new config or the interrupt
     */
    public synchronized void setLinkUp(boolean up) throws ErrnoException {
        link.set(up);
        device.updateConfig(VirtioNet.CONFIG_STATUS, new byte[] {(byte) (up ? VirtioNet.S_LINK_UP : 0), 0});
    }

    /** Whether the link is up. */
    public boolean linkUp() {
        return link.up();
    }

    /** What the device moved and dropped. */
    public NetCounters counters() {
        return counters;
    }

    /** The options it was started with. */
    public NetOptions options() {
        return options;
    }

    /** The device's VDUSE name. */
    public String name() {
        return options.name();
    }

    /** The SDK's device underneath, for its state and counters. */
    public VduseDevice vduseDevice() {
        return device;
    }

    /** Receive buffers the driver made available and no frame used yet. */
    public int heldReceiveBuffers() {
        return rx.held();
    }

    /**
     * Stops serving and leaves the device in the kernel, as a killed process does, for a process
     * started with {@link NetOptions#withReconnect} to take over; {@link #close()} afterwards
     * does nothing. The backend gets no more frames from this device.
     *
     * @throws VduseException if a queue would not stop; serving has stopped either way
     */
    public synchronized void detach() throws VduseException {
        stop(device::detach);
    }

    /** Whether this device took over one a process before left in the kernel. */
    public boolean reconnected() {
        return device.reconnected();
    }

    /**
     * Stops serving and destroys the device in the kernel; the backend gets no more frames from it
     * and delivers none to it (the backend itself stays open: its owner closes it).
     *
     * @throws VduseException if the kernel refuses, typically because the device is still
     *     attached ({@code vdpa dev del NAME} first); serving has stopped either way
     */
    @Override
    public synchronized void close() throws VduseException {
        stop(device::close);
    }

    /** What a stop does to the SDK's device: close (destroy) or detach (leave it in the kernel). */
    @FunctionalInterface
    private interface Ending {
        void end() throws VduseException;
    }

    private void stop(Ending ending) throws VduseException {
        if (closed) {
            return;
        }
        closing = true;
        backend.watchLink(null);
        backend.attach(null);
        try {
            ending.end();
            closed = true;
        } finally {
            // Both queues have stopped: the transmit thread is done with its buffer, and a frame
            // still arriving finds the receive queue stopped before it touches its own.
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }

    @Override
    public String toString() {
        return "VirtioNetDevice[" + options.name() + ", " + options.mac() + ", mtu " + options.mtu() + "]";
    }
}
