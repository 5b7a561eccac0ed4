package io.vduse.net;

import io.vduse.api.Ioctl;
import java.lang.foreign.ValueLayout;

/** The TUN/TAP driver's ioctls and flags ({@code <linux/if_tun.h>}, {@code <linux/if.h>}). */
final class Tun {

    /** {@code TUNSETIFF}: attaches the file to an interface, {@code struct ifreq} with name and flags. */
    static final Ioctl SETIFF = Ioctl.write("TUNSETIFF", 'T', 202, ValueLayout.JAVA_INT);
    /** {@code TUNSETPERSIST}: whether the interface outlives its last file; the argument is the number itself. */
    static final Ioctl SETPERSIST = Ioctl.write("TUNSETPERSIST", 'T', 203, ValueLayout.JAVA_INT);
    /** {@code TUNGETIFF}: the interface's name and flags ({@code IFF_PERSIST} among them) into a {@code struct ifreq}. */
    static final Ioctl GETIFF = Ioctl.read("TUNGETIFF", 'T', 210, ValueLayout.JAVA_INT);
    /** {@code TUNSETOFFLOAD}: the offloads this side takes in frames it reads; the argument is the number itself. */
    static final Ioctl SETOFFLOAD = Ioctl.write("TUNSETOFFLOAD", 'T', 208, ValueLayout.JAVA_INT);
    /** {@code TUNSETVNETHDRSZ}: the size of the virtio-net header before each frame, an int by pointer. */
    static final Ioctl SETVNETHDRSZ = Ioctl.write("TUNSETVNETHDRSZ", 'T', 216, ValueLayout.JAVA_INT);

    /** {@code IFF_TAP}: Ethernet frames. */
    static final short IFF_TAP = 0x0002;
    /** {@code IFF_NO_PI}: no packet-information prefix. */
    static final short IFF_NO_PI = 0x1000;
    /** {@code IFF_PERSIST}: the interface stays when its last file closes ({@code TUNGETIFF} says so). */
    static final short IFF_PERSIST = 0x0800;
    /** {@code IFF_VNET_HDR}: a {@code virtio_net_hdr} before each frame. */
    static final short IFF_VNET_HDR = 0x4000;

    /** {@code TUN_F_CSUM}: frames read may carry a partial checksum. */
    static final int F_CSUM = 0x01;
    /** {@code TUN_F_TSO4}. */
    static final int F_TSO4 = 0x02;
    /** {@code TUN_F_TSO6}. */
    static final int F_TSO6 = 0x04;
    /** {@code TUN_F_TSO_ECN}. */
    static final int F_TSO_ECN = 0x08;

    /** {@code IFNAMSIZ}: an interface name, its NUL included. */
    static final int IFNAMSIZ = 16;
    /** {@code sizeof(struct ifreq)} on 64-bit Linux. */
    static final int IFREQ_SIZE = 40;
    /** Offset of {@code ifr_flags} in {@code struct ifreq}. */
    static final int IFREQ_FLAGS = 16;

    private Tun() {}
}
