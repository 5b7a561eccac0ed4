package io.vduse.net;

import java.nio.ByteBuffer;

/** Ethernet frames for the tests: addresses, an EtherType, and a payload that says which frame it is. */
final class Frames {

    private Frames() {}

    /** A frame of {@code length} bytes from {@code src} to {@code dst}, EtherType 0x88b5 (local experimental), filled from {@code seed}. */
    static byte[] frame(MacAddress dst, MacAddress src, int length, int seed) {
        ByteBuffer frame = ByteBuffer.allocate(length);
        frame.put(dst.bytes()).put(src.bytes()).putShort((short) 0x88b5);
        for (int i = frame.position(); i < length; i++) {
            frame.put((byte) (seed * 131 + i * 7));
        }
        return frame.array();
    }

    /**
     * An IPv4 UDP frame with a correct UDP checksum: the Internet checksum of the pseudo header
     * (addresses, protocol, UDP length) and the UDP header and payload, summed here word by word
     * over a buffer that holds them all.
     */
    static byte[] udpFrame(MacAddress dst, MacAddress src, int payloadLength) {
        int udpLength = 8 + payloadLength;
        ByteBuffer f = ByteBuffer.allocate(14 + 20 + udpLength);
        f.put(dst.bytes()).put(src.bytes()).putShort((short) 0x0800);
        f.put((byte) 0x45).put((byte) 0).putShort((short) (20 + udpLength)).putInt(0).put((byte) 64).put((byte) 17)
                .putShort((short) 0).put(new byte[] {10, 0, 0, 1}).put(new byte[] {10, 0, 0, 2});
        f.putShort((short) 4000).putShort((short) 5000).putShort((short) udpLength).putShort((short) 0);
        for (int i = 0; i < payloadLength; i++) {
            f.put((byte) (i * 13 + 1));
        }
        byte[] frame = f.array();
        ByteBuffer all = ByteBuffer.allocate(12 + udpLength + 1);
        all.put(frame, 26, 8).put((byte) 0).put((byte) 17).putShort((short) udpLength).put(frame, 34, udpLength);
        int sum = 0;
        for (int i = 0; i + 1 < all.capacity(); i += 2) {
            sum += all.getShort(i) & 0xffff;
        }
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        int checksum = ~sum & 0xffff;
        ByteBuffer.wrap(frame).putShort(34 + 6, (short) (checksum == 0 ? 0xffff : checksum));
        return frame;
    }

    /**
     * The same frame as a sender with checksum offload hands it over: the checksum field holds the
     * folded pseudo-header sum, not complemented (what Linux leaves for CHECKSUM_PARTIAL).
     */
    static byte[] partial(byte[] udpFrame) {
        byte[] frame = udpFrame.clone();
        ByteBuffer f = ByteBuffer.wrap(frame);
        int udpLength = f.getShort(34 + 4) & 0xffff;
        int sum = (f.getShort(26) & 0xffff) + (f.getShort(28) & 0xffff) + (f.getShort(30) & 0xffff)
                + (f.getShort(32) & 0xffff) + 17 + udpLength;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        f.putShort(34 + 6, (short) sum);
        return frame;
    }
}
