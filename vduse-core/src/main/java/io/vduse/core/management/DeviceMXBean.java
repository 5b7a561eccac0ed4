package io.vduse.core.management;

import java.util.Map;

/**
 * One VDUSE device served by this process, as JMX sees it: registered as
 * {@code io.vduse:type=Device,name=NAME} ({@link ObjectNames#device}) when the device starts,
 * unregistered when it is closed or detached. Every attribute is read live.
 */
public interface DeviceMXBean {

    /** The device's name, {@code /dev/vduse/NAME}. */
    String getName();

    /** The virtio device id (2 block, 1 net). */
    int getDeviceId();

    /**
     * The virtio status the driver last set, with {@code DEVICE_NEEDS_RESET} (64) added when a
     * queue broke; 0 after a reset.
     */
    int getStatus();

    /** {@link #getStatus()} by name: {@code RESET}, or bits as {@code ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK}. */
    String getStatusText();

    /** The virtio features the device offers. */
    long getOfferedFeatures();

    /** The features the driver accepted; 0 before {@code DRIVER_OK}. */
    long getNegotiatedFeatures();

    /** The VDUSE API version the device was created with (or taken over at). */
    long getApiVersion();

    /** The VDUSE features in use (bit 0 {@code QUEUE_READY}, bit 1 {@code SUSPEND}). */
    long getVduseFeatures();

    /** The number of virtqueues. */
    int getQueueCount();

    /** Control messages the kernel sent since the device started, of every type. */
    long getMessagesHandled();

    /**
     * Control messages by type ({@code GET_VQ_STATE}, {@code SET_STATUS}, {@code UPDATE_IOTLB},
     * {@code SET_VQ_GROUP_ASID}, {@code SET_VQ_READY}, {@code SUSPEND}, and {@code UNKNOWN} for
     * types the SDK does not know), every type present.
     */
    Map<String, Long> getMessagesByType();

    /** Whether the kernel suspended the device ({@code VDUSE_SUSPEND}) since the last reset. */
    boolean isSuspended();

    /** Whether the kernel marked the device broken: no message comes any more; destroy and create it again. */
    boolean isBroken();

    /** Whether this process took the device over from an earlier one. */
    boolean isReconnected();

    /** Mappings that IOTLB updates took out of translation and that requests in flight still hold. */
    int getRetiredMappings();
}
