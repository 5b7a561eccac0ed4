package io.vduse.core.internal;

import io.vduse.api.Vduse;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import java.util.Optional;

/**
 * The checks {@code VDUSE_CREATE_DEV} makes (from {@code vduse_validate_config} and
 * {@code vduse_create_dev} in {@code drivers/vdpa/vdpa_user/vduse_dev.c}, Linux 6.12 and 7.3).
 * Each failed check is {@code EINVAL} in the kernel, which says no more; the simulated kernel
 * refuses by these rules, and a device names the rule it broke when the real kernel refuses.
 */
public final class CreateDevRules {

    /** {@code VRING_USED_ALIGN_SIZE}: the smallest {@code vq_align} Linux 7.3 takes. */
    public static final int VQ_ALIGN_MIN = 4;

    private CreateDevRules() {}

    /** The device ids the kernel lets userspace create: block and net, and from Linux 7.3 on fs. */
    public static boolean deviceAllowed(int deviceId, boolean linux73) {
        return deviceId == VirtioDeviceId.BLOCK || deviceId == VirtioDeviceId.NET
                || (linux73 && deviceId == VirtioDeviceId.FS);
    }

    /**
     * Which rule {@code config} breaks, if any, in words that name the rule and the value.
     *
     * @param reservedBitsSet whether the struct had non-zero reserved words
     * @param apiVersion the version set on the control file
     * @param linux73 whether the kernel has Linux 7.3's rules: {@code vq_align} a power of two of
     *     at least {@link #VQ_ALIGN_MIN} (6.12 took any value up to PAGE_SIZE), and virtio-fs
     *     allowed (6.12 refused it)
     */
    public static Optional<String> violation(VduseDevConfig config, boolean reservedBitsSet, long apiVersion,
            boolean linux73) {
        if (reservedBitsSet) {
            return Optional.of("reserved words are not zero");
        }
        if (apiVersion < Vduse.API_VERSION_1 && (config.ngroups() != 0 || config.nas() != 0)) {
            return Optional.of("with API version %d, ngroups and nas must be 0 (got ngroups %d, nas %d)"
                    .formatted(apiVersion, config.ngroups(), config.nas()));
        }
        if (apiVersion >= Vduse.API_VERSION_1 && (config.ngroups() == 0
                || Integer.compareUnsigned(config.ngroups(), Vduse.GROUPS_MAX) > 0)) {
            return Optional.of("with API version %d, ngroups must be 1..%d (got %s)"
                    .formatted(apiVersion, Vduse.GROUPS_MAX, Integer.toUnsignedString(config.ngroups())));
        }
        if (apiVersion >= Vduse.API_VERSION_1 && (config.nas() == 0
                || Integer.compareUnsigned(config.nas(), Vduse.ADDRESS_SPACES_MAX) > 0)) {
            return Optional.of("with API version %d, nas must be 1..%d (got %s)"
                    .formatted(apiVersion, Vduse.ADDRESS_SPACES_MAX, Integer.toUnsignedString(config.nas())));
        }
        if (linux73 && (config.vqAlign() < VQ_ALIGN_MIN || Integer.bitCount(config.vqAlign()) != 1)) {
            return Optional.of("vq_align must be a power of two of at least %d (got %s)"
                    .formatted(VQ_ALIGN_MIN, Integer.toUnsignedString(config.vqAlign())));
        }
        if (Integer.compareUnsigned(config.vqAlign(), Vduse.VQ_ALIGN_MAX) > 0) {
            return Optional.of("vq_align above PAGE_SIZE (got %s)".formatted(Integer.toUnsignedString(config.vqAlign())));
        }
        if (Integer.compareUnsigned(config.vqNum(), Vduse.VQ_NUM_MAX) > 0) {
            return Optional.of("vq_num above 0xffff (got %s)".formatted(Integer.toUnsignedString(config.vqNum())));
        }
        if (!deviceAllowed(config.deviceId(), linux73)) {
            return Optional.of("device id " + config.deviceId() + " is not allowed (block 2 and net 1 are"
                    + (linux73 ? ", and fs 26)" : "; Linux 7.3 also takes fs 26)"));
        }
        if (!VirtioFeatures.has(config.features(), VirtioFeatures.ACCESS_PLATFORM)) {
            return Optional.of("VIRTIO_F_ACCESS_PLATFORM is missing");
        }
        if (config.deviceId() == VirtioDeviceId.BLOCK && VirtioFeatures.has(config.features(), VirtioBlk.F_CONFIG_WCE)) {
            return Optional.of("VIRTIO_BLK_F_CONFIG_WCE: the config space is read-only to the driver");
        }
        if (config.deviceId() == VirtioDeviceId.NET && !VirtioFeatures.has(config.features(), VirtioFeatures.VERSION_1)) {
            return Optional.of("virtio-net needs VIRTIO_F_VERSION_1");
        }
        // Linux 6.12 accepts a '/' in the name (devtmpfs shows it as '!'); only an empty one is refused.
        if (config.name().isEmpty()) {
            return Optional.of("the name is empty");
        }
        return Optional.empty();
    }
}
