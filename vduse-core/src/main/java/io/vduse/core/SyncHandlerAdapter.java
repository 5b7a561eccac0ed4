package io.vduse.core;

import io.vduse.virtqueue.DescriptorChain;
import java.lang.System.Logger.Level;

/**
 * Runs a {@link QueueHandler} as an {@link AsyncQueueHandler}: the request is handled and
 * completed on the queue's thread, which then returns it to the driver without any hand-off.
 */
final class SyncHandlerAdapter implements AsyncQueueHandler {

    private static final System.Logger LOG = System.getLogger(SyncHandlerAdapter.class.getName());

    private final QueueHandler handler;
    private final FailureAnswer failures;

    SyncHandlerAdapter(QueueHandler handler, FailureAnswer failures) {
        this.handler = handler;
        this.failures = failures;
    }

    @Override
    public void start(Request request) {
        DescriptorChain chain = request.chain();
        try {
            handler.handle(chain);
        } catch (Exception e) {
            request.run().worker().handlerFailed(e);
            long before = chain.writer().bytesWritten();
            try {
                handler.failed(chain, e);
            } catch (RuntimeException again) {
                LOG.log(Level.WARNING, "the handler's failed() threw too: " + again, again);
            }
            request.complete(failures.answer(chain, before));
            return;
        }
        request.complete();
    }

    @Override
    public void queueStarted(QueueContext queue) {
        handler.queueStarted(queue);
    }

    @Override
    public void queueStopping(QueueContext queue, QueueStop reason) {
        handler.queueStopping(queue, reason);
    }

    @Override
    public void queueStopped(QueueContext queue, QueueStop reason) {
        handler.queueStopped(queue, reason);
    }
}
