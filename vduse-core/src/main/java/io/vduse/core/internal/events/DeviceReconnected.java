package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A device left in the kernel by an earlier process, taken over by this one. */
@Name("io.vduse.DeviceReconnected")
@Label("Device Reconnected")
@Category({"VDUSE", "Device"})
@Description("A device left in the kernel by a process that stopped, taken over by this one; its running "
        + "queues resumed from their in-flight logs or used rings")
@StackTrace(false)
public final class DeviceReconnected extends jdk.jfr.Event {

    @Label("Device")
    public String device;

    @Label("API Version")
    public long apiVersion;

    @Label("Negotiated Features")
    @Description("The features the driver accepted; 0 if it had not negotiated yet")
    public long negotiatedFeatures;

    @Label("Queues")
    public int queues;

    @Label("Queues Resumed")
    @Description("Ready queues that serve again; a queue that could not be resumed waits for a reset")
    public int queuesResumed;
}
