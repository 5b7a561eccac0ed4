package io.vduse.net;

/** Whether the device's link is up: read by both queues, changed by {@link VirtioNetDevice#setLinkUp}. */
final class LinkState {

    private volatile boolean up;

    LinkState(boolean up) {
        this.up = up;
    }

    boolean up() {
        return up;
    }

    void set(boolean value) {
        up = value;
    }
}
