package io.vduse.net;

import java.lang.foreign.MemorySegment;

/** Where frames go: a device's receive side, or a backend's way out. */
@FunctionalInterface
public interface FrameSink {

    /**
     * Takes one Ethernet frame, the whole of {@code frame}, with its offload header. Neither may be
     * kept after the call returns: both are reused for the next frame.
     *
     * @return whether the frame was taken; a sink that drops it has counted why
     */
    boolean accept(VnetHeader header, MemorySegment frame);
}
