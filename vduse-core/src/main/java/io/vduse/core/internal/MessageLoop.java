package io.vduse.core.internal;

import io.vduse.api.Vduse;
import io.vduse.api.VduseDevRequest;
import io.vduse.api.VduseRequest;
import io.vduse.api.VduseResponse;
import io.vduse.core.DeviceBrokenException;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.internal.events.ControlMessage;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Reads the control messages of a device on its own thread and answers each one. The kernel
 * waits for every answer (and breaks the device after {@code msg_timeout}), so every message
 * gets one: a handler that throws, or a type nobody knows, is answered with
 * {@code VDUSE_REQ_RESULT_FAILED}.
 */
public final class MessageLoop {

    /** Answers one message. */
    public interface Handler {
        /** The answer to {@code request}; exceptions become a FAILED answer. */
        VduseResponse handle(VduseRequest request) throws Exception;

        /**
         * Called once the answer to a message is written (or failed to be), for what must happen
         * only after the kernel has it: starting queues the answer made ready.
         */
        default void answered() {}

        /**
         * Work the device does on the message thread outside any message: called after each
         * answer and whenever no message came for a while (every 50 ms at the least).
         */
        default void betweenMessages() {}

        /**
         * Called once, on the loop's thread, when the kernel marked the device broken: no message
         * comes any more and the loop has stopped. The default does nothing.
         */
        default void broken(DeviceBrokenException cause) {}
    }

    private static final System.Logger LOG = System.getLogger(MessageLoop.class.getName());
    /** How often the loop looks at its stop flag while no message comes. */
    private static final int POLL_MILLIS = 50;

    private final String name;
    private final String deviceName;
    private final VduseFile file;
    private final long apiVersion;
    private final Handler handler;
    /** Message types counted one by one; any other type is counted in the last slot. */
    private static final int COUNTED_TYPES = Vduse.REQ_SUSPEND + 1;

    private final AtomicLongArray received = new AtomicLongArray(COUNTED_TYPES + 1);
    private final Arena arena = Arena.ofShared();
    private final MemorySegment request = arena.allocate(VduseDevRequest.SIZE);
    private final MemorySegment response = arena.allocate(VduseResponse.SIZE);
    private volatile boolean running;
    private Thread thread;

    /** A loop over the messages of {@code file}. */
    public MessageLoop(String deviceName, VduseFile file, long apiVersion, Handler handler) {
        this.name = "vduse-" + deviceName + "-msg";
        this.deviceName = deviceName;
        this.file = file;
        this.apiVersion = apiVersion;
        this.handler = handler;
    }

    /** Messages of {@code type} read so far; types above {@link Vduse#REQ_SUSPEND} count together. */
    public long received(int type) {
        return received.get(slot(type));
    }

    private static int slot(int type) {
        return type >= 0 && type < COUNTED_TYPES ? type : COUNTED_TYPES;
    }

    /** Starts the thread. */
    public synchronized void start() {
        running = true;
        thread = Thread.ofPlatform().name(name).daemon(true).start(this::run);
    }

    /** Stops the thread and waits for it; a message being handled is answered first. */
    public synchronized void stop() {
        running = false;
        Thread t = thread;
        if (t == null) {
            return;
        }
        Threads.joinUninterruptibly(t);
        thread = null;
        arena.close();
    }

    private void run() {
        while (running) {
            try {
                handler.betweenMessages();
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, name + ": work between messages failed: " + e, e);
            }
            try {
                if (!file.awaitReadable(POLL_MILLIS)) {
                    continue;
                }
                file.read(request, VduseDevRequest.SIZE);
            } catch (DeviceBrokenException e) {
                // Polling again would return at once, forever (the kernel never clears the state),
                // and no message can come: stop, once, and say so.
                LOG.log(Level.ERROR, brokenMessage(e));
                handler.broken(e);
                return;
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EAGAIN || e.errno() == Errno.EINTR) {
                    continue;
                }
                LOG.log(Level.ERROR, name + ": reading messages failed, the loop stops: " + e.getMessage(), e);
                return;
            }
            int type = VduseDevRequest.type(request);
            received.incrementAndGet(slot(type));
            // Timed from the read to the answer's write: what the kernel waits, message by message.
            ControlMessage event = new ControlMessage();
            event.begin();
            VduseRequest message = VduseRequest.decode(request, apiVersion);
            VduseResponse answer = answer(message, event);
            answer.writeTo(response);
            try {
                file.write(response, VduseResponse.SIZE);
            } catch (ErrnoException e) {
                LOG.log(Level.ERROR, "%s: answering %s failed: %s".formatted(name, message, e.getMessage()), e);
                event.errno = e.errno();
                event.error = "answering failed: " + e.getMessage();
            }
            event.end();
            if (event.shouldCommit()) {
                event.device = deviceName;
                event.type = typeName(type);
                event.typeCode = type;
                event.requestId = message.requestId();
                event.request = message.toString();
                event.result = answer.result() == Vduse.REQ_RESULT_OK ? "OK" : "FAILED";
                event.commit();
            }
            try {
                handler.answered();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.ERROR, "%s: after answering %s: %s".formatted(name, message, e), e);
            }
        }
    }

    /** What a broken device means and what to do about it, for the one log record. */
    private String brokenMessage(DeviceBrokenException e) {
        return ("%s: %s. Linux does this when a control message goes unanswered for longer than "
                + "/sys/class/vduse/%s/msg_timeout (30 s by default), or when the device refuses a message "
                + "the kernel cannot do without (SET_VQ_READY). From now on the kernel sends the device no more "
                + "messages and refuses its ioctls (EPERM); neither a reset by the driver nor reopening the "
                + "device clears that, so the message loop stops and the device reports broken(). To recover: "
                + "vdpa dev del %s, close this device (which destroys it in the kernel), and create it again; "
                + "a reconnecting process cannot take it over.")
                .formatted(name, e.getMessage(), deviceName, deviceName);
    }

    /** The answer to {@code message}; a failure to handle it is also noted in {@code event}. */
    private VduseResponse answer(VduseRequest message, ControlMessage event) {
        if (message instanceof VduseRequest.Unknown unknown) {
            LOG.log(Level.WARNING, "{0}: message of unknown type {1}, answered FAILED", name, unknown.type());
            return VduseResponse.failed(message.requestId());
        }
        try {
            return handler.handle(message);
        } catch (Exception | Error e) {
            LOG.log(Level.ERROR, "%s: handling %s failed, answered FAILED: %s".formatted(name, message, e), e);
            event.errno = e instanceof ErrnoException errno ? errno.errno() : 0;
            event.error = e.toString();
            return VduseResponse.failed(message.requestId());
        }
    }

    /** The kernel's name of a message type, without {@code VDUSE_}; UNKNOWN for a type the SDK does not know. */
    public static String typeName(int type) {
        return switch (type) {
            case Vduse.REQ_GET_VQ_STATE -> "GET_VQ_STATE";
            case Vduse.REQ_SET_STATUS -> "SET_STATUS";
            case Vduse.REQ_UPDATE_IOTLB -> "UPDATE_IOTLB";
            case Vduse.REQ_SET_VQ_GROUP_ASID -> "SET_VQ_GROUP_ASID";
            case Vduse.REQ_SET_VQ_READY -> "SET_VQ_READY";
            case Vduse.REQ_SUSPEND -> "SUSPEND";
            default -> "UNKNOWN";
        };
    }
}
