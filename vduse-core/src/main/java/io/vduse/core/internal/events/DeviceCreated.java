package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A device created in the kernel by this process ({@code VDUSE_CREATE_DEV}) and started. */
@Name("io.vduse.DeviceCreated")
@Label("Device Created")
@Category({"VDUSE", "Device"})
@Description("A VDUSE device created in the kernel (VDUSE_CREATE_DEV) and started by this process")
@StackTrace(false)
public final class DeviceCreated extends jdk.jfr.Event {

    @Label("Device")
    @Description("The device's name, /dev/vduse/NAME")
    public String device;

    @Label("Kernel")
    @Description("The kernel the device lives in: Linux, or the simulated kernel")
    public String kernel;

    @Label("Device ID")
    @Description("The virtio device id (2 block, 1 net)")
    public int deviceId;

    @Label("API Version")
    @Description("The VDUSE API version the device was created with")
    public long apiVersion;

    @Label("Features")
    @Description("The virtio features the device offers, VERSION_1 and ACCESS_PLATFORM included")
    public long features;

    @Label("VDUSE Features")
    @Description("The VDUSE features set before CREATE_DEV (bit 0 QUEUE_READY, bit 1 SUSPEND)")
    public long vduseFeatures;

    @Label("Queues")
    public int queues;

    @Label("Queue Size")
    @Description("The largest ring each queue accepts")
    public int queueSize;
}
