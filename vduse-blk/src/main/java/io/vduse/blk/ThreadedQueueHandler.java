package io.vduse.blk;

import io.vduse.core.AsyncQueueHandler;
import io.vduse.core.Request;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.function.Supplier;

/**
 * Serves one queue's requests on a few threads of its own ({@code --aio threads}), so that a
 * backend whose every I/O waits (a disk, a network store) has that many requests in flight.
 *
 * <p>The queue's thread hands each request over and goes on popping; each I/O thread takes the
 * next request, serves it with a {@link BlkQueueHandler} of its own (its own scratch buffer and
 * I/O vectors, so nothing is shared between requests) and completes it, in whatever order the
 * backend finishes them. The hand-off holds up to the ring's size, which is the most the SDK
 * ever has in flight on a queue, so it never refuses one.
 */
final class ThreadedQueueHandler implements AsyncQueueHandler {

    private static final Logger LOG = System.getLogger(ThreadedQueueHandler.class.getName());

    private final ArrayBlockingQueue<Request> pending;
    private final Thread[] threads;
    /** Answers a request whose hand-off failed, on the queue's thread. */
    private final BlkQueueHandler queueThreadAnswers;

    /**
     * @param name the threads' name prefix, the queue thread's ({@code vduse-NAME-q0}); each adds {@code -ioN}
     * @param threadCount how many requests this queue serves at once
     * @param queueSize the ring's size: the most requests in flight at once
     * @param servers makes one handler per I/O thread, and one more for answering failures
     */
    ThreadedQueueHandler(String name, int threadCount, int queueSize, Supplier<BlkQueueHandler> servers) {
        if (threadCount < 1) {
            throw new IllegalArgumentException("threadCount " + threadCount + " < 1");
        }
        this.pending = new ArrayBlockingQueue<>(queueSize);
        this.queueThreadAnswers = servers.get();
        this.threads = new Thread[threadCount];
        for (int i = 0; i < threadCount; i++) {
            BlkQueueHandler server = servers.get();
            threads[i] = Thread.ofPlatform().name(name + "-io" + i).daemon().unstarted(() -> serve(server));
        }
        for (Thread t : threads) {
            t.start();
        }
    }

    @Override
    public void start(Request request) {
        if (!pending.offer(request)) {
            // Cannot happen while the SDK keeps at most a ring's worth in flight; answered IOERR if it does.
            throw new IllegalStateException("more requests in flight than the ring holds (" + pending.size() + ")");
        }
    }

    @Override
    public void failed(Request request, Exception cause) {
        queueThreadAnswers.failed(request.chain(), cause);
    }

    private void serve(BlkQueueHandler server) {
        try {
            while (true) {
                Request request = pending.take();
                try {
                    server.handle(request.chain());
                } catch (Exception e) {
                    // A backend failure: this request is answered IOERR, the next one goes on.
                    LOG.log(Level.DEBUG, "{0}: {1}", Thread.currentThread().getName(), e.toString());
                    server.failed(request.chain(), e);
                } catch (Error e) {
                    // Answered too, so the driver is not left waiting on it; the thread goes on,
                    // as the queue's own thread would not for a synchronous handler, but loudly.
                    LOG.log(Level.ERROR, Thread.currentThread().getName() + ": serving a request failed", e);
                    server.failed(request.chain(), new RuntimeException(e));
                }
                request.complete();
            }
        } catch (InterruptedException e) {
            // close(): the device has stopped serving; nothing is left to complete.
        }
    }

    /** Stops the I/O threads and waits for them; called once the device no longer serves. */
    void close() throws InterruptedException {
        for (Thread t : threads) {
            t.interrupt();
        }
        for (Thread t : threads) {
            t.join();
        }
    }
}
