package io.vduse.core.sim;

import io.vduse.api.Vduse;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import java.util.Optional;

/**
 * The checks {@code VDUSE_CREATE_DEV} makes (from {@code vduse_validate_config} and
 * {@code vduse_create_dev} in {@code drivers/vdpa/vdpa_user/vduse_dev.c}). Each failed check is
 * {@code EINVAL} in the kernel; here it also says which check failed, for test messages.
 */
final class DeviceRules {

    private DeviceRules() {}

    /** The device ids the kernel lets userspace create: block and net. */
    static boolean deviceAllowed(int deviceId) {
        return deviceId == VirtioDeviceId.BLOCK || deviceId == VirtioDeviceId.NET;
    }

    /**
     * Which rule {@code config} breaks, if any.
     *
     * @param reservedBitsSet whether the struct had non-zero reserved words
     * @param apiVersion the version set on the control file
     */
    static Optional<String> violation(VduseDevConfig config, boolean reservedBitsSet, long apiVersion) {
        if (reservedBitsSet) {
            return Optional.of("reserved words are not zero");
        }
        if (apiVersion < Vduse.API_VERSION_1 && (config.ngroups() != 0 || config.nas() != 0)) {
            return Optional.of("ngroups and nas need API version 1");
        }
        if (apiVersion >= Vduse.API_VERSION_1
                && (Integer.compareUnsigned(config.ngroups(), Vduse.GROUPS_MAX) > 0
                        || Integer.compareUnsigned(config.nas(), Vduse.GROUPS_MAX) > 0)) {
            return Optional.of("ngroups or nas above 0xffff");
        }
        if (Integer.compareUnsigned(config.vqAlign(), Vduse.VQ_ALIGN_MAX) > 0) {
            return Optional.of("vq_align above PAGE_SIZE");
        }
        if (Integer.compareUnsigned(config.vqNum(), Vduse.VQ_NUM_MAX) > 0) {
            return Optional.of("vq_num above 0xffff");
        }
        if (!deviceAllowed(config.deviceId())) {
            return Optional.of("device id " + config.deviceId() + " is not allowed");
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
