package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Threshold;

/**
 * One request that took longer than the threshold, from being taken off the ring to its
 * completion reaching the ring. Off by default; each queue reuses one object per ring slot, so
 * that neither the disabled nor the enabled event allocates per request.
 */
@Name("io.vduse.SlowRequest")
@Label("Slow Request")
@Category({"VDUSE", "Queue"})
@Description("A request that took longer than the threshold, from popping it off the ring to pushing its "
        + "completion; disabled by default")
@Enabled(false)
@Threshold("10 ms")
@StackTrace(false)
public final class SlowRequest extends jdk.jfr.Event {

    @Label("Device")
    public String device;

    @Label("Queue")
    public int queue;

    @Label("Descriptor")
    @Description("The chain's head descriptor index (split) or buffer id (packed)")
    public int descriptor;

    @Label("Readable")
    @Description("Bytes of the driver's buffers the device may read")
    @DataAmount
    public long readable;

    @Label("Writable")
    @Description("Bytes of the driver's buffers the device may write")
    @DataAmount
    public long writable;

    @Label("Used Length")
    @Description("Bytes the device answered with as written")
    @DataAmount
    public long usedLength;
}
