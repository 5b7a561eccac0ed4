package io.vduse.net;

import java.lang.foreign.MemorySegment;

/**
 * What a {@link VirtioNetDevice} sends its frames to and receives them from: a TAP interface, or
 * one end of a {@link VirtualCable}. The device hands it each frame the driver transmits, on the
 * transmit queue's thread, and the backend delivers what it receives to the sink the device
 * attached, on a thread of its own (which, for a cable, is the other device's transmit thread).
 */
public interface NetBackend extends AutoCloseable {

    /**
     * Where the backend delivers the frames it receives from now on; {@code null} detaches (frames
     * are then dropped by the backend and counted there).
     */
    void attach(FrameSink receiver);

    /**
     * Sends one frame the driver transmitted, the whole of {@code frame}, with its offload header;
     * both are reused once this returns. Must not block indefinitely: the transmit queue waits.
     *
     * @return whether it was sent; a backend that drops it has counted why
     */
    boolean transmit(VnetHeader header, MemorySegment frame);

    /**
     * Called on the receive queue's thread when the driver starts the device, with the features
     * it negotiated: a backend whose other side can finish offloads for us (a TAP's
     * {@code TUNSETOFFLOAD}) asks for only those the driver accepted. The default does nothing.
     */
    default void driverStarted(long negotiatedFeatures) {}

    /**
     * Whether the backend's own link is up: a TAP interface's administrative state on the host
     * ({@code ip link set TAP up}). The device's link starts from it and follows it. The default:
     * always up.
     */
    default boolean linkUp() {
        return true;
    }

    /**
     * From now on tells {@code listener} each time {@link #linkUp()} changes, on a thread of the
     * backend's; {@code null} stops telling. The default never changes, so never tells.
     */
    default void watchLink(LinkListener listener) {}

    /** Told when a backend's link goes up or down. */
    @FunctionalInterface
    interface LinkListener {
        /** The backend's link is now {@code up} (or down). */
        void linkChanged(boolean up);
    }

    /** Releases what the backend holds; the default holds nothing. */
    @Override
    default void close() {}
}
