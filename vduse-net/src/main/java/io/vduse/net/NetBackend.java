package io.vduse.net;

import io.vduse.core.ErrnoException;
import java.lang.foreign.MemorySegment;

/**
 * What a {@link VirtioNetDevice} sends its frames to and receives them from: a TAP interface, or
 * one end of a {@link VirtualCable}. The device hands it each frame the driver transmits, on the
 * transmit queue's thread. What the backend receives reaches the device one of two ways: a
 * backend with a descriptor ({@link #receiveFd()}: a TAP) is read by the receive queue's own
 * thread when it is readable and there are buffers to receive into ({@link #receive}); any other
 * delivers to the sink the device attached, on a thread of its own (for a cable, the other
 * device's transmit thread).
 */
public interface NetBackend extends AutoCloseable {

    /**
     * Where the backend delivers the frames it receives from now on; {@code null} detaches (frames
     * are then dropped by the backend and counted there).
     */
    void attach(FrameSink receiver);

    /**
     * The descriptor that is readable while received frames wait, for a backend that the receive
     * queue reads on its own thread ({@link #receive}): no thread hands frames over, and a frame
     * that finds no buffer waits in the backend (a TAP's queue, whose overflow the kernel counts
     * as the TAP's transmit drops) instead of being dropped. -1, the default, for a backend that
     * delivers to the {@linkplain #attach attached} sink on a thread of its own.
     */
    default int receiveFd() {
        return -1;
    }

    /**
     * Reads one waiting frame, if there is one, and hands it to {@code sink}; on the receive
     * queue's thread, for a backend with a {@link #receiveFd()}. Never blocks.
     *
     * @return whether a frame was read (and handed over, or dropped and counted); false if none
     *     was waiting
     * @throws ErrnoException if reading failed (the device then stops reading the backend)
     */
    default boolean receive(FrameSink sink) throws ErrnoException {
        return false;
    }

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
