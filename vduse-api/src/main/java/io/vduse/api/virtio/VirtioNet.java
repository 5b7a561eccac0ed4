package io.vduse.api.virtio;

/**
 * The virtio network device (virtio 1.2, 5.1): feature bits, the {@code virtio_net_hdr} that
 * precedes every frame on both queues, and the offsets of {@code struct virtio_net_config}.
 *
 * <p>With {@code VIRTIO_F_VERSION_1} the header is always {@link #HDR_SIZE} bytes, little-endian,
 * {@code num_buffers} included whether or not {@link #F_MRG_RXBUF} was negotiated:
 *
 * <pre>
 *  0 u8   flags          F_NEEDS_CSUM, F_DATA_VALID
 *  1 u8   gso_type       GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, | GSO_ECN
 *  2 le16 hdr_len        length of the headers to copy into each segment
 *  4 le16 gso_size       payload bytes per segment
 *  6 le16 csum_start     where checksumming starts
 *  8 le16 csum_offset    where the checksum goes, from csum_start
 * 10 le16 num_buffers    receive buffers the frame spans (F_MRG_RXBUF); 1 otherwise
 * </pre>
 *
 * The config space:
 *
 * <pre>
 *  0 u8[6] mac                  F_MAC
 *  6 le16  status               F_STATUS: S_LINK_UP, S_ANNOUNCE
 *  8 le16  max_virtqueue_pairs  F_MQ
 * 10 le16  mtu                  F_MTU
 * </pre>
 */
public final class VirtioNet {

    /** Feature: the device takes frames with a partial checksum ({@code VIRTIO_NET_F_CSUM}). */
    public static final int F_CSUM = 0;
    /** Feature: the driver takes frames with a partial checksum. */
    public static final int F_GUEST_CSUM = 1;
    /** Feature: the device's maximum MTU is in {@code mtu}. */
    public static final int F_MTU = 3;
    /** Feature: the device has the MAC address in {@code mac}. */
    public static final int F_MAC = 5;
    /** Feature: the driver takes TCP over IPv4 segmentation offload. */
    public static final int F_GUEST_TSO4 = 7;
    /** Feature: the driver takes TCP over IPv6 segmentation offload. */
    public static final int F_GUEST_TSO6 = 8;
    /** Feature: the driver takes TSO with ECN. */
    public static final int F_GUEST_ECN = 9;
    /** Feature: the driver takes UDP fragmentation offload. */
    public static final int F_GUEST_UFO = 10;
    /** Feature: the device takes TCP over IPv4 segmentation offload. */
    public static final int F_HOST_TSO4 = 11;
    /** Feature: the device takes TCP over IPv6 segmentation offload. */
    public static final int F_HOST_TSO6 = 12;
    /** Feature: the device takes TSO with ECN. */
    public static final int F_HOST_ECN = 13;
    /** Feature: the device takes UDP fragmentation offload. */
    public static final int F_HOST_UFO = 14;
    /** Feature: a received frame may span several receive buffers ({@code num_buffers}). */
    public static final int F_MRG_RXBUF = 15;
    /** Feature: {@code status} holds the link state. */
    public static final int F_STATUS = 16;
    /** Feature: a control virtqueue. VDUSE refuses it ({@code vduse_validate_config}). */
    public static final int F_CTRL_VQ = 17;
    /** Feature: several queue pairs ({@code max_virtqueue_pairs}); needs the control queue. */
    public static final int F_MQ = 22;

    /** Header flag: the checksum from {@code csum_start} is partial and goes at {@code csum_offset}. */
    public static final int HDR_F_NEEDS_CSUM = 1;
    /** Header flag (receive): the checksum was validated. */
    public static final int HDR_F_DATA_VALID = 2;

    /** GSO type: not a segmentation offload frame. */
    public static final int GSO_NONE = 0;
    /** GSO type: TCP over IPv4. */
    public static final int GSO_TCPV4 = 1;
    /** GSO type: UDP (fragmentation). */
    public static final int GSO_UDP = 3;
    /** GSO type: TCP over IPv6. */
    public static final int GSO_TCPV6 = 4;
    /** GSO flag: the TCP segments carry ECN (CWR). */
    public static final int GSO_ECN = 0x80;

    /** {@code sizeof(struct virtio_net_hdr_mrg_rxbuf)}: the header with VERSION_1. */
    public static final int HDR_SIZE = 12;

    /** Config offset of {@code mac}. */
    public static final int CONFIG_MAC = 0;
    /** Config offset of {@code status}. */
    public static final int CONFIG_STATUS = 6;
    /** Config offset of {@code max_virtqueue_pairs}. */
    public static final int CONFIG_MAX_VIRTQUEUE_PAIRS = 8;
    /** Config offset of {@code mtu}. */
    public static final int CONFIG_MTU = 10;
    /** Size of the config space up to and including {@code mtu}. */
    public static final int CONFIG_SIZE = 12;

    /** Status bit: the link is up. */
    public static final int S_LINK_UP = 1;
    /** Status bit: the driver should announce itself (gratuitous ARP). */
    public static final int S_ANNOUNCE = 2;

    /** Queue index of the first receive queue. */
    public static final int RX_QUEUE = 0;
    /** Queue index of the first transmit queue. */
    public static final int TX_QUEUE = 1;

    private VirtioNet() {}
}
