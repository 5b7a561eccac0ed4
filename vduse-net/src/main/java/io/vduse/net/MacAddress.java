package io.vduse.net;

import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An Ethernet MAC address, 48 bits, as the config space's {@code mac} holds it (first octet first).
 *
 * @param value the address in the low 48 bits, first octet most significant
 */
public record MacAddress(long value) {

    /** The bits above 48 must be clear. */
    public MacAddress {
        if ((value & ~0xffff_ffff_ffffL) != 0) {
            throw new IllegalArgumentException("a MAC address has 48 bits: " + Long.toHexString(value));
        }
    }

    /**
     * Parses {@code 52:54:00:12:34:56} (six two-digit hex octets, {@code :} or {@code -} between).
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static MacAddress parse(String text) {
        String[] octets = text.split("[:-]", -1);
        if (octets.length != 6) {
            throw new IllegalArgumentException("'" + text + "' is not a MAC address (six hex octets, e.g. 52:54:00:12:34:56)");
        }
        long value = 0;
        for (String octet : octets) {
            if (octet.length() != 2 || !HexFormat.isHexDigit(octet.charAt(0)) || !HexFormat.isHexDigit(octet.charAt(1))) {
                throw new IllegalArgumentException("'" + text + "' is not a MAC address: octet '" + octet
                        + "' is not two hex digits");
            }
            value = value << 8 | HexFormat.fromHexDigits(octet);
        }
        MacAddress mac = new MacAddress(value);
        if (mac.isMulticast()) {
            throw new IllegalArgumentException("'" + text + "' is a multicast address; a device's own address must be unicast");
        }
        return mac;
    }

    /** A random unicast address with the locally administered bit set, as Linux's eth_random_addr makes. */
    public static MacAddress random() {
        long value = ThreadLocalRandom.current().nextLong() & 0xffff_ffff_ffffL;
        value &= ~(1L << 40); // unicast
        value |= 1L << 41; // locally administered
        return new MacAddress(value);
    }

    /** Whether the group bit (the lowest bit of the first octet) is set. */
    public boolean isMulticast() {
        return (value >>> 40 & 1) != 0;
    }

    /** The six octets, first first. */
    public byte[] bytes() {
        byte[] bytes = new byte[6];
        for (int i = 0; i < 6; i++) {
            bytes[i] = (byte) (value >>> (40 - 8 * i));
        }
        return bytes;
    }

    @Override
    public String toString() {
        return HexFormat.ofDelimiter(":").formatHex(bytes());
    }
}
