package io.vduse.core;

import io.vduse.api.VduseRequest;
import io.vduse.api.VduseResponse;
import io.vduse.api.VqState;
import io.vduse.core.internal.MessageLoop;
import java.lang.System.Logger.Level;

/** Turns each control message into what the device does about it. */
final class ControlHandler implements MessageLoop.Handler {

    private static final System.Logger LOG = System.getLogger(ControlHandler.class.getName());

    private final VduseDevice device;

    ControlHandler(VduseDevice device) {
        this.device = device;
    }

    @Override
    public VduseResponse handle(VduseRequest request) throws Exception {
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
            case VduseRequest.Suspend p -> device.onSuspend()
                    ? VduseResponse.ok(p.requestId())
                    : VduseResponse.failed(p.requestId());
            case VduseRequest.Unknown u -> VduseResponse.failed(u.requestId());
        };
    }

    @Override
    public void answered() {
        device.answered();
    }

    @Override
    public void betweenMessages() {
        device.betweenMessages();
    }

    @Override
    public void broken(DeviceBrokenException cause) {
        device.onBroken();
    }
}
