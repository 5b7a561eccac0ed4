package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static io.vduse.api.Layouts.U64;
import static io.vduse.api.Layouts.U8;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * {@code struct vduse_dev_config}: the argument of {@code VDUSE_CREATE_DEV}, a fixed header
 * followed by the initial config space.
 *
 * <pre>
 *   0 char  name[256]       NUL-terminated
 * 256 u32   vendor_id
 * 260 u32   device_id
 * 264 u64   features
 * 272 u32   vq_num
 * 276 u32   vq_align
 * 280 u32   ngroups         API v1, else 0
 * 284 u32   nas             API v1, else 0
 * 288 u32   reserved[11]    zero
 * 332 u32   config_size
 * 336 u8    config[config_size]
 * </pre>
 *
 * @param name device name; becomes {@code /dev/vduse/NAME}
 * @param vendorId virtio subsystem vendor id
 * @param deviceId virtio device id, see {@link io.vduse.api.virtio.VirtioDeviceId}
 * @param features the device's feature bits
 * @param vqNum number of virtqueues
 * @param vqAlign alignment of the split ring's used ring
 * @param ngroups number of virtqueue groups (API v1; 0 with v0)
 * @param nas number of address spaces (API v1; 0 with v0)
 * @param config the initial config space, at most {@link Vduse#CONFIG_SIZE_MAX} bytes
 */
public record VduseDevConfig(
        String name,
        int vendorId,
        int deviceId,
        long features,
        int vqNum,
        int vqAlign,
        int ngroups,
        int nas,
        byte[] config) {

    /** The fixed part; {@code config[]} follows it. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(Vduse.NAME_MAX, U8).withName("name"),
            U32.withName("vendor_id"),
            U32.withName("device_id"),
            U64.withName("features"),
            U32.withName("vq_num"),
            U32.withName("vq_align"),
            U32.withName("ngroups"),
            U32.withName("nas"),
            MemoryLayout.sequenceLayout(11, U32).withName("reserved"),
            U32.withName("config_size"))
            .withName("vduse_dev_config");

    /** Offset of {@code name}. */
    public static final long NAME = LAYOUT.byteOffset(groupElement("name"));
    /** Offset of {@code vendor_id}. */
    public static final long VENDOR_ID = LAYOUT.byteOffset(groupElement("vendor_id"));
    /** Offset of {@code device_id}. */
    public static final long DEVICE_ID = LAYOUT.byteOffset(groupElement("device_id"));
    /** Offset of {@code features}. */
    public static final long FEATURES = LAYOUT.byteOffset(groupElement("features"));
    /** Offset of {@code vq_num}. */
    public static final long VQ_NUM = LAYOUT.byteOffset(groupElement("vq_num"));
    /** Offset of {@code vq_align}. */
    public static final long VQ_ALIGN = LAYOUT.byteOffset(groupElement("vq_align"));
    /** Offset of {@code ngroups}. */
    public static final long NGROUPS = LAYOUT.byteOffset(groupElement("ngroups"));
    /** Offset of {@code nas}. */
    public static final long NAS = LAYOUT.byteOffset(groupElement("nas"));
    /** Offset of {@code reserved}. */
    public static final long RESERVED = LAYOUT.byteOffset(groupElement("reserved"));
    /** Offset of {@code config_size}. */
    public static final long CONFIG_SIZE = LAYOUT.byteOffset(groupElement("config_size"));
    /** Offset of {@code config[]}: the size of the fixed part. */
    public static final long CONFIG = LAYOUT.byteSize();

    /**
     * Checks what the struct itself can hold: a name that fits with its NUL, and a config space
     * no larger than the kernel accepts. The kernel's other checks (allowed device ids, required
     * features) belong to whoever creates the device.
     */
    public VduseDevConfig {
        Objects.requireNonNull(name, "name");
        CNames.encode(name, Vduse.NAME_MAX);
        Objects.requireNonNull(config, "config");
        if (config.length > Vduse.CONFIG_SIZE_MAX) {
            throw new IllegalArgumentException(
                    "config space of %d bytes is larger than the kernel accepts: at most %d bytes (PAGE_SIZE)"
                            .formatted(config.length, Vduse.CONFIG_SIZE_MAX));
        }
        config = config.clone();
    }

    /** The config space; a copy. */
    @Override
    public byte[] config() {
        return config.clone();
    }

    /** Bytes this struct takes with its config space. */
    public long byteSize() {
        return CONFIG + config.length;
    }

    /** Writes the whole struct, config included, at the start of {@code segment}. */
    public void writeTo(MemorySegment segment) {
        MemorySegment s = segment.asSlice(0, byteSize());
        s.fill((byte) 0);
        CNames.write(s, NAME, Vduse.NAME_MAX, name);
        s.set(U32, VENDOR_ID, vendorId);
        s.set(U32, DEVICE_ID, deviceId);
        s.set(U64, FEATURES, features);
        s.set(U32, VQ_NUM, vqNum);
        s.set(U32, VQ_ALIGN, vqAlign);
        s.set(U32, NGROUPS, ngroups);
        s.set(U32, NAS, nas);
        s.set(U32, CONFIG_SIZE, config.length);
        MemorySegment.copy(config, 0, s, U8, CONFIG, config.length);
    }

    /**
     * Reads a struct as userspace wrote it.
     *
     * @throws IllegalArgumentException if {@code config_size} exceeds the kernel's limit or the
     *     segment is too short to hold the config space it announces
     */
    public static VduseDevConfig readFrom(MemorySegment segment) {
        int configSize = segment.get(U32, CONFIG_SIZE);
        if (Integer.compareUnsigned(configSize, Vduse.CONFIG_SIZE_MAX) > 0) {
            throw new IllegalArgumentException(
                    "config_size %s is larger than the kernel accepts: at most %d bytes (PAGE_SIZE)"
                            .formatted(Integer.toUnsignedString(configSize), Vduse.CONFIG_SIZE_MAX));
        }
        if (segment.byteSize() < CONFIG + configSize) {
            throw new IllegalArgumentException(
                    "config_size %d runs past the end of a %d-byte buffer"
                            .formatted(configSize, segment.byteSize()));
        }
        byte[] config = new byte[configSize];
        MemorySegment.copy(segment, U8, CONFIG, config, 0, configSize);
        return new VduseDevConfig(
                CNames.read(segment, NAME, Vduse.NAME_MAX),
                segment.get(U32, VENDOR_ID),
                segment.get(U32, DEVICE_ID),
                segment.get(U64, FEATURES),
                segment.get(U32, VQ_NUM),
                segment.get(U32, VQ_ALIGN),
                segment.get(U32, NGROUPS),
                segment.get(U32, NAS),
                config);
    }

    /** Whether any {@code reserved} word of the struct at {@code segment} is non-zero. */
    public static boolean hasReservedBits(MemorySegment segment) {
        for (int i = 0; i < 11; i++) {
            if (segment.get(U32, RESERVED + 4L * i) != 0) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VduseDevConfig c
                && name.equals(c.name)
                && vendorId == c.vendorId
                && deviceId == c.deviceId
                && features == c.features
                && vqNum == c.vqNum
                && vqAlign == c.vqAlign
                && ngroups == c.ngroups
                && nas == c.nas
                && Arrays.equals(config, c.config);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, vendorId, deviceId, features, vqNum, vqAlign, ngroups, nas)
                * 31 + Arrays.hashCode(config);
    }

    @Override
    public String toString() {
        return "VduseDevConfig[name=%s, vendorId=0x%x, deviceId=%d, features=0x%x, vqNum=%d, vqAlign=%d, ngroups=%d, nas=%d, config=%s]"
                .formatted(name, vendorId, deviceId, features, vqNum, vqAlign, ngroups, nas,
                        HexFormat.of().formatHex(config));
    }
}
