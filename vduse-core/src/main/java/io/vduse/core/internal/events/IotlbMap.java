package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A translation miss resolved: an IOTLB entry fetched ({@code VDUSE_IOTLB_GET_FD}) and mapped. */
@Name("io.vduse.IotlbMap")
@Label("IOTLB Map")
@Category({"VDUSE", "IOTLB"})
@Description("An IOTLB entry the device fetched from the kernel (IOTLB_GET_FD) on a translation miss and "
        + "mapped into the process")
@StackTrace(false)
public final class IotlbMap extends jdk.jfr.Event {

    @Label("Device")
    public String device;

    @Label("Address Space")
    public int asid;

    @Label("Start")
    @MemoryAddress
    public long start;

    @Label("Last")
    @MemoryAddress
    public long last;

    @Label("Size")
    @DataAmount
    public long size;

    @Label("File Offset")
    public long offset;

    @Label("Permission")
    @Description("RO, WO or RW, as the kernel's entry says (VDUSE_ACCESS_*)")
    public String perm;
}
