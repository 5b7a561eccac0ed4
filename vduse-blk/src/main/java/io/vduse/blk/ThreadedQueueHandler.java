package io.vduse.blk;

import io.vduse.core.AsyncQueueHandler;
import io.vduse.core.Request;
import io.vduse.virtqueue.DescriptorChain;
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
 *
 * <p>With an inline limit above 0, a request carrying at most that many bytes is served on the
 * queue's thread instead: for a file in memory, a small copy costs less than the hand-off to
 * another thread, while large ones are better copied on several CPUs at once.
 */
final class ThreadedQueueHandler implements AsyncQueueHandler {

    private static final Logger LOG = System.getLogger(ThreadedQueueHandler.class.getName());

    private final ArrayBlockingQueue<Request> pending;
    private final Thread[] threads;
    /** Serves the requests kept on the queue's thread, and answers one whose hand-off failed. */
    private final BlkQueueHandler queueThreadServer;
    /** The most bytes a request served on the queue's thread carries; 0: none is. */
    private final long inlineLimit;
    /** Requests handed to the I/O threads; written by the queue's thread alone. */
    private volatile long handedOver;

    /**
     * @param name the threads' name prefix, the queue thread's ({@code vduse-NAME-q0}); each adds {@code -ioN}
     * @param threadCount how many requests this queue serves at once
     * @param queueSize the ring's size: the most requests in flight at once
     * @param inlineLimit requests carrying at most this many bytes (the larger of the chain's
     *     readable and writable lengths) are served on the queue's thread; 0 for none
     * @param servers makes one handler per I/O thread, and one more for the queue's thread
     */
    ThreadedQueueHandler(String name, int threadCount, int queueSize, long inlineLimit,
            Supplier<BlkQueueHandler> servers) {
        if (threadCount < 1) {
            throw new IllegalArgumentException("threadCount " + threadCount + " < 1");
        }
        if (inlineLimit < 0) {
            throw new IllegalArgumentException("inlineLimit " + inlineLimit + " < 0");
        }
        this.pending = new ArrayBlockingQueue<>(queueSize);
        this.inlineLimit = inlineLimit;
        this.queueThreadServer = servers.get();
        this.threads = new Thread[threadCount];
        for (int i = 0; i < threadCount; i++) {
            BlkQueueHandler server = servers.get();
            threads[i] = Thread.ofPlatform().name(name + "-io" + i).daemon().unstarted(() -> serveHandedOver(server));
        }
        for (Thread t : threads) {
            t.start();
        }
    }

    @Override
    public void start(Request request) {
        DescriptorChain chain = request.chain();
        if (inlineLimit > 0 && Math.max(chain.readableLength(), chain.writableLength()) <= inlineLimit) {
            serve(queueThreadServer, request);
            return;
        }
        if (!pending.offer(request)) {
            // Cannot happen while the SDK keeps at most a ring's worth in flight; answered IOERR if it does.
            throw new IllegalStateException("more requests in flight than the ring holds (" + pending.size() + ")");
        }
        handedOver++; // the queue's thread is the only writer
    }

    @Override
    public void failed(Request request, Exception cause) {
        queueThreadServer.failed(request.chain(), cause);
    }

    private void serveHandedOver(BlkQueueHandler server) {
        try {
            while (true) {
                serve(server, pending.take());
            }
        } catch (InterruptedException e) {
            // close(): the device has stopped serving; nothing is left to complete.
        }
    }

    private static void serve(BlkQueueHandler server, Request request) {
        try {
            server.handle(request.chain());
        } catch (Exception e) {
            // A backend failure: this request is answered IOERR, the next one goes on.
            LOG.log(Level.DEBUG, "{0}: {1}", Thread.currentThread().getName(), e.toString());
            server.failed(request.chain(), e);
        } catch (Error e) {
            // Answered too, so the driver is not left waiting on it; the thread goes on, as the
            // queue's own thread would not for a synchronous handler, but loudly.
            LOG.log(Level.ERROR, Thread.currentThread().getName() + ": serving a request failed", e);
            server.failed(request.chain(), new RuntimeException(e));
        }
        request.complete();
    }

    /** How many requests were handed to the I/O threads rather than served on the queue's thread. */
    long handedOver() {
        return handedOver;
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
