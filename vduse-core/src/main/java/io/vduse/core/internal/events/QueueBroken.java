package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A queue that stopped until the device is reset: a driver broke its ring, or it could not be served. */
@Name("io.vduse.QueueBroken")
@Label("Queue Broken")
@Category({"VDUSE", "Queue"})
@Description("A queue stopped until the driver resets the device (DEVICE_NEEDS_RESET): the driver broke the "
        + "ring, its ring could not be set up, or serving it failed")
@StackTrace(false)
public final class QueueBroken extends jdk.jfr.Event {

    @Label("Device")
    public String device;

    @Label("Queue")
    public int queue;

    @Label("Reason")
    @Description("What was wrong, as VirtqueueException.Reason names it (AVAIL_INDEX_TOO_FAR, DESCRIPTOR_LOOP, "
            + "IOVA_FAULT, ...), or SETUP_FAILED for a ring that could not be made")
    public String reason;

    @Label("Message")
    public String message;
}
