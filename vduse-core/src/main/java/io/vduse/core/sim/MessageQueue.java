package io.vduse.core.sim;

import io.vduse.api.VduseDevRequest;
import io.vduse.api.VduseRequest;
import io.vduse.api.VduseResponse;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;

/**
 * The kernel's side of the control messages of one device, as {@code vduse_dev_msg_sync} runs
 * it: a message waits in the send list until the device reads it, then in the receive list until
 * the device answers; the sender waits for the answer at most the message time-out, after which
 * the device is broken and every later message fails at once.
 *
 * <p>When the device file is closed, messages read but not answered go back to the front of the
 * send list, so that a restarted device process reads them again.
 *
 * <p>A broken device is what {@code vduse_dev_broken} leaves: every message still waiting, read
 * or not, is answered FAILED at once and both lists are empty; nothing is queued any more, so a
 * read finds nothing ({@code EAGAIN}) and an answer finds no message ({@code ENOENT}); and
 * {@code vduse_dev_poll} reports {@code POLLERR} at once. Nothing clears it: not a reset, not
 * closing and reopening the file; only destroying the device and creating it again.
 */
final class MessageQueue {

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Pending> sendList = new ArrayDeque<>();
    private final Map<Integer, Pending> receiveList = new LinkedHashMap<>();
    private final long apiVersion;
    private int nextRequestId;
    private boolean broken;

    private static final class Pending {
        final VduseRequest request;
        byte[] response;
        boolean abandoned;

        Pending(VduseRequest request) {
            this.request = request;
        }
    }

    MessageQueue(long apiVersion) {
        this.apiVersion = apiVersion;
    }

    /** The longest wait for an answer per message kind (the request's record name), in nanoseconds. */
    private final java.util.concurrent.ConcurrentHashMap<String, Long> slowest =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** The longest wait for an answer per message kind since the last {@link #clearAnswerTimes()}. */
    java.util.Map<String, Duration> slowestAnswers() {
        java.util.Map<String, Duration> copy = new java.util.TreeMap<>();
        slowest.forEach((kind, nanos) -> copy.put(kind, Duration.ofNanos(nanos)));
        return copy;
    }

    void clearAnswerTimes() {
        slowest.clear();
    }

    /**
     * Sends a message and waits for its answer.
     *
     * @param message builds the message from the request id this queue assigns
     * @return the response bytes ({@link VduseResponse#SIZE})
     * @throws ErrnoException {@code ETIMEDOUT} if the device did not answer in time (the device is
     *     broken from then on), {@code EIO} if it was broken already
     */
    byte[] call(IntFunction<VduseRequest> message, Duration timeout) throws ErrnoException {
        lock.lock();
        try {
            if (broken) {
                throw new ErrnoException("VDUSE message to a broken device", Errno.EIO);
            }
            Pending pending = new Pending(message.apply(nextRequestId++));
            long sent = System.nanoTime();
            sendList.addLast(pending);
            changed.signalAll();
            long nanos = timeout.toNanos();
            while (pending.response == null) {
                if (nanos <= 0) {
                    // As vduse_dev_msg_sync on a time-out: this message leaves its list, then the
                    // device is broken, which fails every other message still waiting.
                    pending.abandoned = true;
                    sendList.remove(pending);
                    receiveList.remove(pending.request.requestId());
                    breakLocked();
                    throw new ErrnoException("VDUSE message " + pending.request + " not answered in " + timeout,
                            Errno.ETIMEDOUT);
                }
                nanos = changed.awaitNanos(nanos);
            }
            slowest.merge(pending.request.getClass().getSimpleName(), System.nanoTime() - sent, Math::max);
            return pending.response;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ErrnoException("VDUSE message interrupted", Errno.EINTR);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Marks the device broken, as {@code vduse_dev_broken} does where the kernel cannot go on
     * (a refused {@code SET_VQ_READY}): every later message fails at once.
     */
    void breakDevice() {
        lock.lock();
        try {
            breakLocked();
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code vduse_dev_broken}: the messages read but not answered and those not read yet are
     * all answered FAILED, so that their senders return at once (with {@code EIO}) instead of
     * waiting out their time-outs; then the device is broken and the waiters are woken, which a
     * device waiting in {@code poll} sees as {@code POLLERR}.
     */
    private void breakLocked() {
        if (broken) {
            return;
        }
        for (Pending p : receiveList.values()) {
            p.response = failedResponse(p.request.requestId());
        }
        receiveList.clear();
        for (Pending p : sendList) {
            p.response = failedResponse(p.request.requestId());
        }
        sendList.clear();
        broken = true;
        changed.signalAll();
    }

    private static byte[] failedResponse(int requestId) {
        byte[] bytes = new byte[(int) VduseResponse.SIZE];
        VduseResponse.failed(requestId).writeTo(MemorySegment.ofArray(bytes));
        return bytes;
    }

    /** Whether the device stopped answering in time, or was broken. */
    boolean broken() {
        lock.lock();
        try {
            return broken;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until a message can be read, the device is broken, or the time-out passes; whether a
     * message can be read. Like {@code vduse_dev_poll}, a broken device ends the wait at once
     * (the caller asks {@link #broken()} to tell that from a time-out): a broken device has no
     * message and will never have one.
     */
    boolean awaitReadable(int timeoutMillis) {
        lock.lock();
        try {
            long nanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
            while (sendList.isEmpty() && !broken && nanos > 0) {
                nanos = changed.awaitNanos(nanos);
            }
            return !sendList.isEmpty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Moves the next message to the receive list and writes it into {@code buffer}, as a read of
     * the device file does.
     *
     * @throws ErrnoException {@code EAGAIN} if none is waiting, {@code EINVAL} for a buffer
     *     shorter than a message
     */
    long read(MemorySegment buffer, long length) throws ErrnoException {
        if (length < VduseDevRequest.SIZE) {
            throw new ErrnoException("read of " + length + " bytes from a VDUSE device", Errno.EINVAL);
        }
        lock.lock();
        try {
            Pending next = sendList.pollFirst();
            if (next == null) {
                throw new ErrnoException("read from a VDUSE device with no message waiting", Errno.EAGAIN);
            }
            receiveList.put(next.request.requestId(), next);
            next.request.encode(buffer, apiVersion);
            return VduseDevRequest.SIZE;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes an answer, as a write to the device file does.
     *
     * @throws ErrnoException {@code EINVAL} for a short buffer or non-zero reserved words,
     *     {@code ENOENT} for an id no message waits under
     */
    long write(MemorySegment buffer, long length) throws ErrnoException {
        if (length < VduseResponse.SIZE) {
            throw new ErrnoException("write of " + length + " bytes to a VDUSE device", Errno.EINVAL);
        }
        if (VduseResponse.hasReservedBits(buffer)) {
            throw new ErrnoException("VDUSE response with non-zero reserved words", Errno.EINVAL);
        }
        int id = buffer.get(io.vduse.api.Layouts.U32, VduseResponse.REQUEST_ID);
        lock.lock();
        try {
            Pending pending = receiveList.remove(id);
            if (pending == null) {
                throw new ErrnoException("VDUSE response to request " + id + ", which nobody waits for",
                        Errno.ENOENT);
            }
            pending.response = buffer.asSlice(0, VduseResponse.SIZE).toArray(io.vduse.api.Layouts.U8);
            changed.signalAll();
            return VduseResponse.SIZE;
        } finally {
            lock.unlock();
        }
    }

    /** Puts messages read but not answered back in front of the send list, oldest first. */
    void requeueReceived() {
        lock.lock();
        try {
            ArrayDeque<Pending> received = new ArrayDeque<>();
            for (Iterator<Pending> it = receiveList.values().iterator(); it.hasNext(); ) {
                Pending p = it.next();
                it.remove();
                if (!p.abandoned) {
                    received.addLast(p);
                }
            }
            while (!received.isEmpty()) {
                sendList.addFirst(received.pollLast());
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
