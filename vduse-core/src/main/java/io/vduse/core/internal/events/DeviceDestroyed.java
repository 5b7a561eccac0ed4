package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A device this process stopped serving and destroyed in the kernel ({@code VDUSE_DESTROY_DEV}). */
@Name("io.vduse.DeviceDestroyed")
@Label("Device Destroyed")
@Category({"VDUSE", "Device"})
@Description("This process stopped serving a device and destroyed it in the kernel (VDUSE_DESTROY_DEV)")
@StackTrace(false)
public final class DeviceDestroyed extends jdk.jfr.Event {

    @Label("Device")
    public String device;
}
