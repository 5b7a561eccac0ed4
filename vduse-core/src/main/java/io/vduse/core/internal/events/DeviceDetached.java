package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A device this process stopped serving and left in the kernel, for a process that reconnects. */
@Name("io.vduse.DeviceDetached")
@Label("Device Detached")
@Category({"VDUSE", "Device"})
@Description("This process stopped serving a device and left it in the kernel: detached on purpose, or the "
        + "kernel refused to destroy it (still attached to the vDPA bus)")
@StackTrace(false)
public final class DeviceDetached extends jdk.jfr.Event {

    @Label("Device")
    public String device;

    @Label("Reason")
    @Description("detach(), or why the kernel refused VDUSE_DESTROY_DEV")
    public String reason;
}
