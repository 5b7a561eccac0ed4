package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** {@code VDUSE_UPDATE_IOTLB}: the kernel changed the mappings of a range, which the device drops. */
@Name("io.vduse.IotlbUpdate")
@Label("IOTLB Update")
@Category({"VDUSE", "IOTLB"})
@Description("The kernel changed what an IOVA range maps to (UPDATE_IOTLB): the device takes its mappings of "
        + "the range out of translation, and unmaps each once no request in flight uses it")
@StackTrace(false)
public final class IotlbUpdate extends jdk.jfr.Event {

    @Label("Device")
    public String device;

    @Label("Address Space")
    public int asid;

    @Label("Start")
    @MemoryAddress
    public long start;

    @Label("Last")
    @Description("The last IOVA of the range, inclusive")
    @MemoryAddress
    public long last;

    @Label("Mappings Retired")
    @Description("Mappings of the range the device had, now out of translation")
    public int mappingsRetired;

    @Label("Mappings Waiting")
    @Description("Retired mappings (of this and earlier updates) still held by requests in flight")
    public int mappingsWaiting;
}
