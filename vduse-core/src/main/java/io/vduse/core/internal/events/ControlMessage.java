package io.vduse.core.internal.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One control message the kernel sent, from reading it to writing the answer: the event's
 * duration is how long the kernel waited (it breaks the device after {@code msg_timeout}).
 */
@Name("io.vduse.ControlMessage")
@Label("Control Message")
@Category({"VDUSE", "Control"})
@Description("A control message of the kernel and the device's answer; the duration is the handling time, "
        + "from reading the message to writing the answer")
@StackTrace(false)
public final class ControlMessage extends jdk.jfr.Event {

    @Label("Device")
    public String device;

    @Label("Type")
    @Description("GET_VQ_STATE, SET_STATUS, UPDATE_IOTLB, SET_VQ_GROUP_ASID, SET_VQ_READY, SUSPEND, or UNKNOWN")
    public String type;

    @Label("Type Code")
    @Description("The type as the kernel numbers it (VDUSE_GET_VQ_STATE is 0)")
    public int typeCode;

    @Label("Request ID")
    public int requestId;

    @Label("Request")
    @Description("The message's fields")
    public String request;

    @Label("Result")
    @Description("OK or FAILED, as answered to the kernel")
    public String result;

    @Label("Errno")
    @Description("The errno of the system call that made handling fail; 0 if none did")
    public int errno;

    @Label("Error")
    @Description("Why handling failed, if it threw; null otherwise")
    public String error;
}
