package io.vduse.core;

import io.vduse.api.Vduse;
import io.vduse.api.VduseRequest;
import io.vduse.api.VduseResponse;
import io.vduse.api.VqState;
import io.vduse.core.internal.MessageLoop;
import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicLongArray;

/** Turns each control message into what the device does about it. */
final class ControlHandler implements MessageLoop.Handler {

    private static final System.Logger LOG = System.getLogger(ControlHandler.class.getName());

    /** Message types counted one by one; any other type is counted in the last slot. */
    static final int COUNTED_TYPES = Vduse.REQ_SUSPEND + 1;

    private final VduseDevice device;
    private final AtomicLongArray received = new AtomicLongArray(COUNTED_TYPES + 1);

    ControlHandler(VduseDevice device) {
        this.device = device;
    }

    /** Messages of {@code type} received so far; types above {@link Vduse#REQ_SUSPEND} count together. */
    long received(int type) {
        return received.get(type >= 0 && type < COUNTED_TYPES ? type : COUNTED_TYPES);
    }

    @Override
    public VduseResponse handle(VduseRequest request) throws Exception {
        int type = switch (request) {
            case VduseRequest.GetVqState g -> Vduse.REQ_GET_VQ_STATE;
            case VduseRequest.SetStatus s -> Vduse.REQ_SET_STATUS;
            case VduseRequest.UpdateIotlb u -> Vduse.REQ_UPDATE_IOTLB;
            case VduseRequest.SetVqGroupAsid a -> Vduse.REQ_SET_VQ_GROUP_ASID;
            case VduseRequest.SetVqReady r -> Vduse.REQ_SET_VQ_READY;
            case VduseRequest.Suspend p -> Vduse.REQ_SUSPEND;
            case VduseRequest.Unknown u -> COUNTED_TYPES;
        };
        received.incrementAndGet(type);
        return switch (request) {
            case VduseRequest.SetStatus s -> {
                device.onStatus(s.status());
                yield VduseResponse.ok(s.requestId());
            }
            case VduseRequest.GetVqState g -> {
                VqState state = device.queueState(g.vqIndex());
                if (state == null) {
                    LOG.log(Level.WARNING, "{0}: state asked for queue {1}, which does not exist",
                            device.name(), g.vqIndex());
                    yield VduseResponse.failed(g.requestId());
                }
                yield VduseResponse.vqState(g.requestId(), g.vqIndex(), state);
            }
            case VduseRequest.UpdateIotlb u -> device.invalidate(u.asid(), u.start(), u.last())
                    ? VduseResponse.ok(u.requestId())
                    : VduseResponse.failed(u.requestId());
            case VduseRequest.SetVqGroupAsid a -> device.onGroupAsid(a.group(), a.asid())
                    ? VduseResponse.ok(a.requestId())
                    : VduseResponse.failed(a.requestId());
            case VduseRequest.SetVqReady r -> {
                if (!device.onQueueReady(r.vqIndex(), r.ready())) {
                    LOG.log(Level.WARNING, "{0}: SET_VQ_READY for queue {1}, which does not exist",
                            device.name(), r.vqIndex());
                    yield VduseResponse.failed(r.requestId());
                }
                yield VduseResponse.ok(r.requestId());
            }
            case VduseRequest.Suspend p -> {
                device.onSuspend();
                yield VduseResponse.ok(p.requestId());
            }
            case VduseRequest.Unknown u -> VduseResponse.failed(u.requestId());
        };
    }
}
