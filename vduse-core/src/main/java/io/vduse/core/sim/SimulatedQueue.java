package io.vduse.core.sim;

import io.vduse.api.VqState;

/**
 * The kernel's record of one virtqueue of a simulated device: what the device declared with
 * {@code VQ_SETUP} and {@code VQ_SETUP_KICKFD}, and what the driver set up.
 */
final class SimulatedQueue {

    final int index;
    int maxSize;
    int group;
    /** The kick eventfd the kernel holds (a duplicate of the device's), or -1. */
    int kickFd = -1;
    int num;
    long descAddr;
    long driverAddr;
    long deviceAddr;
    boolean ready;
    VqState state = new VqState.Split(0);

    SimulatedQueue(int index) {
        this.index = index;
    }

    /** Forgets what the driver set up, as a device reset does; the device's own setup stays. */
    void reset() {
        num = 0;
        descAddr = 0;
        driverAddr = 0;
        deviceAddr = 0;
        ready = false;
        state = new VqState.Split(0);
    }
}
