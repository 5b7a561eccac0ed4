package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** The driver set the device status ({@code VDUSE_SET_STATUS}), or a take-over found it running. */
@Name("io.vduse.StatusChange")
@Label("Status Change")
@Category({"VDUSE", "Device"})
@Description("The virtio status the driver set (SET_STATUS; 0 is a reset), with the one before")
@StackTrace(false)
public final class StatusChange extends jdk.jfr.Event {

    @Label("Device")
    public String device;

    @Label("Old Status")
    public int oldStatus;

    @Label("New Status")
    public int newStatus;

    @Label("Status")
    @Description("The new status by name: RESET, or bits as ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK")
    public String status;
}
