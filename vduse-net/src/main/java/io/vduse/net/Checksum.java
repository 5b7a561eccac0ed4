package io.vduse.net;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Completes a partial checksum as a device must for a driver that did not accept
 * {@code VIRTIO_NET_F_GUEST_CSUM}: the field at {@code csum_start + csum_offset} holds the
 * pseudo-header sum; the Internet checksum (RFC 1071) of everything from {@code csum_start} to
 * the end, that field included, is folded, complemented and stored there (what Linux's
 * {@code skb_checksum_help} does).
 */
final class Checksum {

    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);

    private Checksum() {}

    /** Completes the checksum in {@code frame[0, length)}; the caller checked that the field lies inside. */
    static void complete(MemorySegment frame, long length, int csumStart, int csumOffset) {
        long sum = 0;
        long at = csumStart;
        for (; at + 1 < length; at += 2) {
            sum += Short.toUnsignedInt(frame.get(BE16, at));
        }
        if (at < length) {
            sum += Byte.toUnsignedInt(frame.get(ValueLayout.JAVA_BYTE, at)) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        frame.set(BE16, csumStart + csumOffset, (short) ~sum);
    }
}
