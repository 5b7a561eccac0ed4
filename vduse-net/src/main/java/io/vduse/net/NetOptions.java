package io.vduse.net;

import java.util.Objects;

/**
 * What a {@link VirtioNetDevice} is: its VDUSE name, MAC address, MTU, ring layout and size, and
 * whether its link starts up, and whether it takes over a device left in the kernel.
 *
 * @param name the VDUSE device name ({@code /dev/vduse/NAME}, the vDPA device name)
 * @param mac the address in the config space
 * @param mtu the MTU in the config space ({@code VIRTIO_NET_F_MTU}), 68 to 65535
 * @param packedRing whether {@code VIRTIO_F_RING_PACKED} is offered
 * @param queueSize the largest ring the driver may choose, a power of two up to 32768
 * @param linkUp whether the link is up when the driver starts
 * @param reconnect whether to take over a device of this name that a stopped (or killed)
 *     process left in the kernel, instead of creating one
 */
public record NetOptions(String name, MacAddress mac, int mtu, boolean packedRing, int queueSize, boolean linkUp,
        boolean reconnect) {

    /** The smallest MTU: what IPv4 needs (Linux's ETH_MIN_MTU). */
    public static final int MIN_MTU = 68;
    /** The largest MTU the config space's 16 bits hold (Linux's ETH_MAX_MTU). */
    public static final int MAX_MTU = 65535;
    /** The default MTU. */
    public static final int DEFAULT_MTU = 1500;
    /** The default ring size. */
    public static final int DEFAULT_QUEUE_SIZE = 256;

    /** Checks every value. */
    public NetOptions {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(mac, "mac");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("the device name is empty");
        }
        if (mtu < MIN_MTU || mtu > MAX_MTU) {
            throw new IllegalArgumentException("MTU " + mtu + " outside " + MIN_MTU + ".." + MAX_MTU);
        }
        if (queueSize < 2 || queueSize > 32768 || Integer.bitCount(queueSize) != 1) {
            throw new IllegalArgumentException("queue size " + queueSize + " is not a power of two in 2..32768");
        }
        if (mac.isMulticast()) {
            throw new IllegalArgumentException("MAC address " + mac + " is multicast");
        }
    }

    /** A device called {@code name} with a random MAC, MTU 1500, split rings of 256, link up, created anew. */
    public static NetOptions of(String name) {
        return new NetOptions(name, MacAddress.random(), DEFAULT_MTU, false, DEFAULT_QUEUE_SIZE, true, false);
    }

    /** These options for a device of another name. */
    public NetOptions withName(String newName) {
        return new NetOptions(newName, mac, mtu, packedRing, queueSize, linkUp, reconnect);
    }

    /** These options with another MAC address. */
    public NetOptions withMac(MacAddress newMac) {
        return new NetOptions(name, newMac, mtu, packedRing, queueSize, linkUp, reconnect);
    }

    /** These options with another MTU. */
    public NetOptions withMtu(int newMtu) {
        return new NetOptions(name, mac, newMtu, packedRing, queueSize, linkUp, reconnect);
    }

    /** These options with packed rings offered or not. */
    public NetOptions withPackedRing(boolean packed) {
        return new NetOptions(name, mac, mtu, packed, queueSize, linkUp, reconnect);
    }

    /** These options with another ring size. */
    public NetOptions withQueueSize(int size) {
        return new NetOptions(name, mac, mtu, packedRing, size, linkUp, reconnect);
    }

    /**
     * These options taking over the device of this name left in the kernel, or not. The kernel
     * keeps the config space (MAC, MTU) of the process that created the device: give the same
     * values, which the device then reports.
     */
    public NetOptions withReconnect(boolean take) {
        return new NetOptions(name, mac, mtu, packedRing, queueSize, linkUp, take);
    }

    /** These options with the link starting up or down. */
    public NetOptions withLinkUp(boolean up) {
        return new NetOptions(name, mac, mtu, packedRing, queueSize, up, reconnect);
    }
}
