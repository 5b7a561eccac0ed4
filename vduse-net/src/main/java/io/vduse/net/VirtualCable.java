package io.vduse.net;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Two {@link NetBackend}s wired to each other in one process: what one device transmits, the
 * other receives, offload header and all, copied once from the sender's transmit buffers into the
 * receiver's receive buffers on the sender's transmit thread. With a device on each end, two
 * network namespaces talk through two VDUSE devices with no TAP.
 */
public final class VirtualCable {

    private final End left = new End("left");
    private final End right = new End("right");

    /** A cable with nothing attached to either end. */
    public VirtualCable() {
        left.peer = right;
        right.peer = left;
    }

    /** One end. */
    public NetBackend left() {
        return left;
    }

    /** The other end. */
    public NetBackend right() {
        return right;
    }

    /** Frames sent into the left end while nothing was attached to the right one. */
    public long undeliveredFromLeft() {
        return left.undelivered.get();
    }

    /** Frames sent into the right end while nothing was attached to the left one. */
    public long undeliveredFromRight() {
        return right.undelivered.get();
    }

    private static final class End implements NetBackend {
        private final String side;
        private End peer;
        private volatile FrameSink receiver;
        private final AtomicLong undelivered = new AtomicLong();

        End(String side) {
            this.side = side;
        }

        @Override
        public void attach(FrameSink sink) {
            receiver = sink;
        }

        @Override
        public boolean transmit(VnetHeader header, MemorySegment frame) {
            FrameSink other = peer.receiver;
            if (other == null) {
                undelivered.incrementAndGet();
                return false;
            }
            return other.accept(header, frame);
        }

        @Override
        public void close() {
            receiver = null;
        }

        @Override
        public String toString() {
            return "VirtualCable." + side;
        }
    }
}
