package io.vduse.core;

import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseConfigData;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseVqConfig;
import io.vduse.api.VduseVqEventfd;
import io.vduse.api.VduseVqInfo;
import io.vduse.api.VqState;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.internal.CreateDevRules;
import io.vduse.core.internal.IotlbMappingSource;
import io.vduse.core.internal.MessageLoop;
import io.vduse.core.internal.UserBounceMemory;
import io.vduse.core.internal.events.DeviceCreated;
import io.vduse.core.internal.events.DeviceDestroyed;
import io.vduse.core.internal.events.DeviceDetached;
import io.vduse.core.internal.events.DeviceReconnected;
import io.vduse.core.internal.events.IotlbUpdate;
import io.vduse.core.internal.events.QueueBroken;
import io.vduse.core.internal.events.StatusChange;
import io.vduse.iova.AddressSpace;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.VirtqueueException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A running VDUSE device: created in the kernel, answering its control messages, and serving
 * each virtqueue on a worker thread once the driver sets {@code DRIVER_OK}.
 *
 * <pre>{@code
 * try (VduseDevice device = VduseDevice.builder("vduse0")
 *         .deviceId(VirtioDeviceId.BLOCK)
 *         .features(VirtioFeatures.bit(VirtioBlk.F_FLUSH))
 *         .config(VirtioBlkConfig.ofCapacity(2048).toBytes())
 *         .queues(1, 256)
 *         .handlers(index -> chain -> { ... })
 *         .start()) {
 *     // vdpa dev add name vduse0 mgmtdev vduse
 * }
 * }</pre>
 *
 * <p>{@link #close()} stops the device and destroys it in the kernel, which the kernel refuses
 * while the device is attached to the vDPA bus.
 */
public final class VduseDevice implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(VduseDevice.class.getName());

    /** The VDUSE features the SDK handles: {@code SET_VQ_READY} and {@code SUSPEND} messages. */
    static final long SUPPORTED_VDUSE_FEATURES = (1L << Vduse.F_QUEUE_READY) | (1L << Vduse.F_SUSPEND);
    static final Duration DEFAULT_SETTLE_TIMEOUT = Duration.ofSeconds(5);

    private final Builder spec;
    private final VduseKernel kernel;
    private final long apiVersion;
    /** The VDUSE features set on the control file before {@code CREATE_DEV}. */
    private final long vduseFeatures;
    private final VduseFile file;
    /** One IOTLB and address space per ASID: one below API v1. */
    private final IotlbMappingSource[] iotlbs;
    private final AddressSpace[] addressSpaces;
    /** The device's own bounce memory per ASID, with {@link Builder#userBounceMemory}; else empty. */
    private final UserBounceMemory[] userBounce;
    /** The address space each virtqueue group translates through; message thread only. */
    private final int[] groupAsid;
    private final QueueWorker[] workers;
    /** Where the driver placed each running ring ({@code VDUSE_VQ_GET_INFO}); null when stopped. */
    private final VduseVqInfo[] rings;
    /**
     * Where a queue stopped while the driver kept it (disabled by {@code SET_VQ_READY}, or the
     * device suspended): what {@code GET_VQ_STATE} reports until it runs again or a reset.
     * Message thread only.
     */
    private final VqState[] parked;
    private final MessageLoop messages;
    /** Each queue's in-flight log, or null without them ({@link Builder#inflightLog(boolean)}). */
    private final InflightLogs inflight;
    /** Keeps memory an IOTLB update retired until no request or ring of a queue can use it. */
    private final MappingReclaim reclaim;
    /**
     * Queues made ready by the message being handled, started once its answer is written: the
     * kernel takes their interrupts only after it has the answer to DRIVER_OK (or SET_VQ_READY).
     * Message thread only.
     */
    private final List<Runnable> afterAnswer = new ArrayList<>();
    /** 1 for a queue made ready and waiting for its answer to be written, so it counts as running. */
    private final java.util.concurrent.atomic.AtomicIntegerArray starting;
    private final Arena arena = Arena.ofShared();
    /** Control-path ioctl arguments, used by one thread at a time (start-up, then the message thread). */
    private final MemorySegment u64Argument = arena.allocate(8);
    private final MemorySegment vqInfoArgument = arena.allocate(VduseVqInfo.LAYOUT);
    private final MemorySegment kickArgument = arena.allocate(VduseVqEventfd.LAYOUT);

    private volatile int status;
    private volatile long negotiatedFeatures;
    private volatile boolean needsReset;
    /** Set by an answered {@code VDUSE_SUSPEND}; cleared by a reset. */
    private volatile boolean suspended;
    /** Set when the kernel marked the device broken; nothing in the kernel clears it. */
    private volatile boolean broken;
    /** Whether this process took the device over from an earlier one. */
    private volatile boolean reconnected;
    private boolean closed;
    /** The device's and its queues' MXBeans, registered while the device is served. */
    private final ManagementBeans management;

    private VduseDevice(Builder spec, long apiVersion, long vduseFeatures, VduseFile file) throws ErrnoException {
        this.spec = spec;
        this.kernel = spec.kernel;
        this.apiVersion = apiVersion;
        this.vduseFeatures = vduseFeatures;
        this.file = file;
        int spaces = apiVersion >= Vduse.API_VERSION_1 ? spec.addressSpaces : 1;
        this.iotlbs = new IotlbMappingSource[spaces];
        this.addressSpaces = new AddressSpace[spaces];
        this.userBounce = new UserBounceMemory[spec.userBounceMemory ? spaces : 0];
        for (int asid = 0; asid < spaces; asid++) {
            iotlbs[asid] = apiVersion >= Vduse.API_VERSION_1 ? new IotlbMappingSource(file, asid, spec.name)
                    : new IotlbMappingSource(file, spec.name);
            if (spec.userBounceMemory) {
                userBounce[asid] = new UserBounceMemory(spec.name, file, asid, iotlbs[asid]);
                addressSpaces[asid] = new AddressSpace(userBounce[asid]);
                userBounce[asid].attach(addressSpaces[asid]);
            } else {
                addressSpaces[asid] = new AddressSpace(iotlbs[asid]);
            }
        }
        // As the kernel does at create: every group starts in address space 0.
        this.groupAsid = new int[apiVersion >= Vduse.API_VERSION_1 ? spec.groupCount : 1];
        this.workers = new QueueWorker[spec.queueCount];
        this.rings = new VduseVqInfo[spec.queueCount];
        this.parked = new VqState[spec.queueCount];
        this.starting = new java.util.concurrent.atomic.AtomicIntegerArray(spec.queueCount);
        this.reclaim = new MappingReclaim(spec.name);
        FailureAnswer failures = new FailureAnswer(spec.deviceId);
        for (int i = 0; i < workers.length; i++) {
            AsyncQueueHandler handler = spec.asyncHandlers != null ? spec.asyncHandlers.create(i)
                    : new SyncHandlerAdapter(spec.handlers.create(i), failures);
            workers[i] = new QueueWorker(spec.name, i, file, handler, this::queueBroken, spec.busyPoll, reclaim,
                    failures);
        }
        reclaim.watch(workers);
        reclaim.start();
        this.messages = new MessageLoop(spec.name, file, apiVersion, new ControlHandler(this));
        this.management = new ManagementBeans(this, spec.managementBeans);
        this.inflight = spec.inflightLog
                ? new InflightLogs(spec.inflightDirectory != null ? spec.inflightDirectory : kernel.runtimeDirectory(),
                        spec.name, spec.queueSize, spec.inflightCrashHook)
                : null;
    }

    /** Starts describing a device named {@code name} ({@code /dev/vduse/NAME}). */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** The device's name. */
    public String name() {
        return spec.name;
    }

    /** The API version the device was created with. */
    public long apiVersion() {
        return apiVersion;
    }

    /**
     * The VDUSE features (bits {@link Vduse#F_QUEUE_READY}, {@link Vduse#F_SUSPEND}) this process
     * created the device with; 0 on a kernel without them, or for a device taken over with
     * {@link Builder#reconnect(boolean)} (whose features the kernel does not report; the device
     * answers those messages either way).
     */
    public long vduseFeatures() {
        return vduseFeatures;
    }

    /**
     * Control messages of {@code type} ({@link Vduse#REQ_SET_STATUS}, {@link Vduse#REQ_SET_VQ_READY},
     * ...) the kernel sent since the device started; types the SDK does not know count together
     * under any type above {@link Vduse#REQ_SUSPEND}.
     */
    public long controlMessages(int type) {
        return messages.received(type);
    }

    /**
     * Whether queue {@code index} is being served now, or starts as soon as the answer that made
     * it ready is written (so it reads true once the driver's enable or DRIVER_OK returned).
     */
    public boolean queueRunning(int index) {
        return starting.get(index) == 1 || workers[index].isRunning();
    }

    /** Whether the kernel suspended the device ({@code VDUSE_SUSPEND}) since the last reset. */
    public boolean suspended() {
        return suspended;
    }

    /**
     * Whether the kernel marked the device broken ({@code poll} reports {@code POLLERR} on
     * {@code /dev/vduse/NAME}): a control message went unanswered past the device's
     * {@code msg_timeout}, or the device refused {@code SET_VQ_READY}. The kernel then sends no
     * more messages and refuses every ioctl on the device, and a reset by the driver does not
     * clear it: the SDK stops the device's message loop, logs the cause once and adds
     * {@link VirtioStatus#DEVICE_NEEDS_RESET} to {@link #status()}. To recover, detach the device
     * ({@code vdpa dev del NAME}), {@link #close()} it and create it again; a reconnecting process
     * cannot serve it.
     */
    public boolean broken() {
        return broken;
    }

    /** Message thread, once: the kernel marked the device broken. */
    void onBroken() {
        broken = true;
        needsReset = true;
        // The kernel takes no interrupt from a broken device (EPERM): stop taking requests rather
        // than serve into a driver that cannot hear of them. Not waited for: close() collects them.
        for (QueueWorker worker : workers) {
            worker.requestStop(QueueStop.BROKEN);
        }
    }

    /** The address space queue {@code index} translates through now (0 below API v1). */
    public int queueAddressSpace(int index) {
        return groupAsid[groupOf(index)];
    }

    /**
     * Whether the kernel bounces the driver's buffers through the device's own memory now
     * ({@link Builder#userBounceMemory}), in any address space.
     */
    public boolean userBounceMemoryInUse() {
        for (UserBounceMemory memory : userBounce) {
            if (memory.inUse()) {
                return true;
            }
        }
        return false;
    }

    /** The features the driver accepted; 0 before {@code DRIVER_OK}. */
    public long negotiatedFeatures() {
        return negotiatedFeatures;
    }

    /**
     * The status the driver last set, with {@link VirtioStatus#DEVICE_NEEDS_RESET} added when a
     * queue broke. (VDUSE gives the device no way to change the status the driver reads, so this
     * bit is the SDK's own record.)
     */
    public int status() {
        return status | (needsReset ? VirtioStatus.DEVICE_NEEDS_RESET : 0);
    }

    /** Requests completed on queue {@code index}. */
    public long completed(int index) {
        return workers[index].completed();
    }

    /** Interrupts injected on queue {@code index}. */
    public long interrupts(int index) {
        return workers[index].interrupts();
    }

    /**
     * Times queue {@code index}'s thread waited in {@code poll(2)} for a kick, a completion or a
     * command: one system call each, and a wake-up where it slept. Against {@link #completed}
     * it says how well requests are batched (one wait per request is the costliest).
     */
    public long waits(int index) {
        return workers[index].waits();
    }

    /** Requests on queue {@code index} whose handler threw. */
    public long handlerFailures(int index) {
        return workers[index].handlerFailures();
    }

    /**
     * Requests on queue {@code index} cancelled because they were still in flight when the queue
     * had to stop (a reset, say) and did not complete within the settle timeout.
     */
    public long cancelled(int index) {
        return workers[index].cancelled();
    }

    /**
     * Requests on queue {@code index} served again after this process took the device over:
     * the killed process had them in flight ({@link Builder#inflightLog(boolean)}).
     */
    public long resubmitted(int index) {
        return workers[index].resubmitted();
    }

    /** Mappings an IOTLB update took out of translation that requests in flight still hold. */
    public int retiredMappings() {
        return reclaim.waiting().size();
    }

    /** The number of queues. */
    public int queueCount() {
        return workers.length;
    }

    /** The features the device offers: those of the builder with VERSION_1 and ACCESS_PLATFORM. */
    public long offeredFeatures() {
        return spec.features | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM);
    }

    /** Whether this process took the device over from an earlier one ({@link Builder#reconnect(boolean)}). */
    public boolean reconnected() {
        return reconnected;
    }

    /** The virtio device id the device was described with. */
    public int deviceId() {
        return spec.deviceId;
    }

    /** The largest ring each queue accepts. */
    public int maxQueueSize() {
        return spec.queueSize;
    }

    /**
     * Registers {@code bean}, an MXBean of interface {@code type}, in the platform MBean server
     * under {@code name} for as long as this process serves the device, beside the device's own
     * ({@code io.vduse:type=Device,...}, {@code io.vduse:type=Queue,...}): for a device's own
     * counters, say under {@link io.vduse.core.management.ObjectNames#queue(String, String, int)}.
     * Like those it may be registered a moment after this returns, and is unregistered by
     * {@link #close()} and {@link #detach()}; nothing with {@link Builder#managementBeans(boolean)}
     * off, or after the device stopped. A name taken already is logged and left out.
     *
     * @throws IllegalArgumentException if {@code bean} is not a compliant MXBean of {@code type}
     */
    public <T> void addManagementBean(javax.management.ObjectName name, Class<T> type, T bean) {
        management.add(Objects.requireNonNull(name, "name"), Objects.requireNonNull(type, "type"),
                Objects.requireNonNull(bean, "bean"));
    }

    /** Queue {@code index}'s worker, for its MXBean. */
    QueueWorker worker(int index) {
        return workers[index];
    }

    /**
     * Rewrites part of the config space and tells the driver ({@code VDUSE_DEV_SET_CONFIG}, then
     * {@code VDUSE_DEV_INJECT_CONFIG_IRQ}), e.g. for a new capacity after a resize. Without a
     * running driver (no {@code DRIVER_OK}, or suspended) the kernel refuses the interrupt; the
     * new config is then simply what the next driver reads, and that refusal is no error.
     *
     * @throws ErrnoException if the kernel refuses the config, or the interrupt to a running driver
     */
    public synchronized void updateConfig(int offset, byte[] data) throws ErrnoException {
        VduseConfigData update = new VduseConfigData(offset, data);
        try (Arena call = Arena.ofConfined()) {
            MemorySegment argument = call.allocate(update.byteSize());
            update.writeTo(argument);
            file.ioctl(VduseIoctls.DEV_SET_CONFIG, argument);
        }
        try {
            file.ioctl(VduseIoctls.DEV_INJECT_CONFIG_IRQ, MemorySegment.NULL);
        } catch (ErrnoException e) {
            // Looked at after the refusal: a driver that became ready since reads the new config.
            boolean driverRunning = VirtioStatus.has(status, VirtioStatus.DRIVER_OK) && !suspended;
            if (e.errno() != Errno.EINVAL || driverRunning) {
                throw e;
            }
        }
    }

    private void queueBroken(int index, VirtqueueException cause) {
        needsReset = true;
        recordBroken(index, cause.reason().name(), cause.getMessage());
    }

    /**
     * Queue {@code index} stopped until a reset, for {@code reason}: kept for
     * {@link io.vduse.core.management.QueueMXBean#getBrokenReason()} and recorded as an
     * {@code io.vduse.QueueBroken} event.
     */
    private void recordBroken(int index, String reason, String message) {
        workers[index].noteBroken(reason + ": " + message);
        QueueBroken event = new QueueBroken();
        if (event.shouldCommit()) {
            event.device = spec.name;
            event.queue = index;
            event.reason = reason;
            event.message = message;
            event.commit();
        }
    }

    /** The reason for a ring that could not be made or started: the ring's own, or SETUP_FAILED. */
    private static String setupFailure(RuntimeException e) {
        return e instanceof VirtqueueException v ? v.reason().name() : "SETUP_FAILED";
    }

    // ---- control messages (message thread) ------------------------------------------------------

    void onStatus(int newStatus) throws ErrnoException {
        int old = status;
        status = newStatus;
        StatusChange event = new StatusChange();
        if (event.shouldCommit()) {
            event.device = spec.name;
            event.oldStatus = old;
            event.newStatus = newStatus;
            event.status = VirtioStatus.describe(newStatus);
            event.commit();
        }
        if (newStatus == 0) {
            stopAll(QueueStop.RESET, true);
            // Settled or cancelled: nothing of the old driver session may be written from now on,
            // so what requests still held goes too (a late Java access then fails, harmlessly).
            reclaim.releaseAll();
            for (UserBounceMemory memory : userBounce) {
                memory.deregister();
            }
            for (AddressSpace space : addressSpaces) {
                space.invalidateAll();
            }
            java.util.Arrays.fill(parked, null);
            discardInflightLogs(); // they were of the driver session that just ended
            negotiatedFeatures = 0;
            needsReset = false;
            suspended = false;
            LOG.log(Level.DEBUG, "{0}: reset", spec.name);
            return;
        }
        if (VirtioStatus.has(newStatus, VirtioStatus.DRIVER_OK) && !VirtioStatus.has(old, VirtioStatus.DRIVER_OK)) {
            startWorkers();
        }
    }

    /** Runs what the message just answered made ready; the message thread calls it after each answer. */
    void answered() {
        if (afterAnswer.isEmpty()) {
            return;
        }
        List<Runnable> todo = List.copyOf(afterAnswer);
        afterAnswer.clear();
        todo.forEach(Runnable::run);
    }

    private void startWorkers() throws ErrnoException {
        long negotiated = driverFeatures();
        negotiatedFeatures = negotiated;
        // The kernel drops the kick eventfds whenever the driver resets the device, and every
        // driver resets it before use: hand them over again now, as libvduse does on enable.
        setUpKickFds();
        int ready = 0;
        for (int i = 0; i < workers.length; i++) {
            VduseVqInfo vq = queueInfo(i, isPacked());
            if (vq.ready() && prepareQueue(i, vq, vq.state(), false)) {
                ready++;
            }
        }
        LOG.log(Level.INFO, "{0}: driver ready, features 0x{1}, {2} of {3} queue(s) ready", spec.name,
                Long.toHexString(negotiated), ready, workers.length);
    }

    private boolean isPacked() {
        return VirtioFeatures.has(negotiatedFeatures, VirtioFeatures.RING_PACKED);
    }

    /**
     * Makes the ring of queue {@code index}, placed where {@code vq} says, from {@code state}, and
     * starts serving it once the message being handled is answered. A ring that cannot be made
     * (areas unmapped, misaligned, read-only; a bad state) stops that queue only.
     *
     * @return whether the queue will run
     */
    private boolean prepareQueue(int index, VduseVqInfo vq, VqState state, boolean oweInterrupt) {
        return prepareQueue(index, vq, state, oweInterrupt, null);
    }

    /**
     * The same, for a ring that resumes from {@code recovered} (a log a killed process left), or,
     * when that is null, with a new in-flight log from {@code state}.
     */
    private boolean prepareQueue(int index, VduseVqInfo vq, VqState state, boolean oweInterrupt,
            InflightLog recovered) {
        DeviceQueue ring;
        try {
            ring = newRing(index, vq, state);
        } catch (RuntimeException e) { // a VirtqueueException for a bad ring, or a failed mapping
            LOG.log(Level.ERROR, "%s: queue %d cannot be served (%s); it stays stopped until the device is reset"
                    .formatted(spec.name, index, e.getMessage()));
            needsReset = true;
            recordBroken(index, setupFailure(e), e.getMessage());
            return false;
        }
        rings[index] = vq;
        parked[index] = null;
        int asid = groupAsid[groupOf(index)];
        starting.set(index, 1);
        // Written before the driver hears that the queue is ready, so before it can make anything available.
        InflightLog log = recovered != null ? recovered.bind(ring)
                : inflight != null ? inflight.begin(index, vq, ring) : null;
        afterAnswer.add(() -> startRing(index, ring, asid, oweInterrupt, log));
        return true;
    }

    private void startRing(int index, DeviceQueue ring, int asid, boolean oweInterrupt, InflightLog log) {
        try {
            workers[index].start(ring, asid, negotiatedFeatures, oweInterrupt, log);
        } catch (ErrnoException | RuntimeException e) {
            LOG.log(Level.ERROR, "%s: queue %d cannot start (%s); it stays stopped until the device is reset"
                    .formatted(spec.name, index, e.getMessage()), e);
            needsReset = true;
            recordBroken(index, e instanceof RuntimeException r ? setupFailure(r) : "SETUP_FAILED", e.getMessage());
        } finally {
            // After the run is visible: queueRunning never reads false in between.
            starting.set(index, 0);
        }
    }

    /** The ring of queue {@code index} over its address space as it is now, from {@code state}. */
    private DeviceQueue newRing(int index, VduseVqInfo vq, VqState state) {
        return DeviceQueue.create(addressSpaceOf(index), vq.num(), vq.descAddr(), vq.driverAddr(), vq.deviceAddr(),
                negotiatedFeatures, state);
    }

    /**
     * Stops every queue for {@code reason}, all at once and within one settle timeout, keeping
     * where each stood; with {@code mayAbandon}, requests that do not settle in time are
     * cancelled, otherwise their queue serves on.
     *
     * @return the queues that did not settle (empty with {@code mayAbandon})
     */
    private List<Integer> stopAll(QueueStop reason, boolean mayAbandon) {
        for (QueueWorker worker : workers) {
            worker.requestStop(reason);
        }
        long deadline = System.nanoTime() + spec.settleTimeout.toNanos();
        List<Integer> unsettled = new ArrayList<>();
        for (int i = 0; i < workers.length; i++) {
            QueueWorker.Stopped stopped = workers[i].stop(reason, Math.max(0, deadline - System.nanoTime()),
                    mayAbandon);
            if (stopped == null) {
                continue;
            }
            if (stopped.state() != null) {
                parked[i] = stopped.state();
                rings[i] = reason == QueueStop.RESET || reason == QueueStop.CLOSED ? null : rings[i];
            }
            if (!stopped.settled() && !mayAbandon) {
                unsettled.add(i);
                LOG.log(Level.DEBUG, "{0}: queue {1} has {2} request(s) in flight after the settle time", spec.name, i,
                        stopped.cancelled());
            }
        }
        return unsettled;
    }

    /** Stops serving queue {@code index} and keeps where it stood, for {@code GET_VQ_STATE}. */
    private void parkQueue(int index, QueueStop reason) {
        QueueWorker.Stopped stopped = workers[index].stop(reason, spec.settleTimeout.toNanos(), true);
        if (stopped != null && stopped.state() != null) {
            parked[index] = stopped.state();
        }
    }

    /**
     * {@code VDUSE_SET_VQ_READY}: the driver enabled or disabled queue {@code index}. Before
     * {@code DRIVER_OK} there is nothing to do (the queues start at {@code DRIVER_OK} if the
     * kernel has them ready by then); afterwards a disabled queue stops with its state kept, and
     * an enabled one starts from that kept state, or from the driver's if it never ran.
     *
     * @return false for a queue that does not exist, answered FAILED
     */
    boolean onQueueReady(int index, boolean ready) throws ErrnoException {
        if (index < 0 || index >= workers.length) {
            return false;
        }
        boolean running = workers[index].isRunning();
        if (!ready && running) {
            parkQueue(index, QueueStop.DISABLED);
            LOG.log(Level.DEBUG, "{0}: queue {1} disabled by the driver", spec.name, index);
        } else if (ready && !running && VirtioStatus.has(status, VirtioStatus.DRIVER_OK) && !suspended) {
            // The kernel marks the queue ready only after this answer, so VQ_GET_INFO still says
            // not ready: the message is the authority here. A queue disabled earlier goes on from
            // where it stopped: while the driver runs, VQ_GET_INFO's state is still the one set
            // before DRIVER_OK (vhost-vdpa refuses a new base then), not where the ring stands.
            // A ring that cannot be made stops this queue only: a FAILED answer would make the
            // kernel break the whole device.
            VduseVqInfo vq = queueInfo(index, isPacked());
            // A queue this process never ran may have been stopped by one it took over from: the
            // log of that run says where it stood (there is none for a queue that never ran).
            InflightLog earlier = parked[index] == null && inflight != null
                    ? inflight.recover(index, vq, isPacked(), addressSpaceOf(index)) : null;
            VqState state = earlier != null ? earlier.recoveredState() : parked[index] != null ? parked[index] : vq.state();
            if (prepareQueue(index, vq, state, false, earlier)) {
                LOG.log(Level.DEBUG, "{0}: queue {1} enabled by the driver", spec.name, index);
            }
        }
        return true;
    }

    /**
     * {@code VDUSE_SUSPEND}: stops taking chains from every queue and lets the requests in flight
     * complete, so that once it answers OK the rings are quiet and the kept states are exact.
     * If some request does not complete within the settle timeout the device is not suspended:
     * every queue serves on and the answer is FAILED, rather than a state that would lose that
     * request. There is no resume: the kernel drops kicks and interrupts until the driver resets
     * the device.
     *
     * @return whether the device is suspended
     */
    boolean onSuspend() {
        List<Integer> unsettled = stopAll(QueueStop.SUSPENDED, false);
        if (!unsettled.isEmpty()) {
            // The queues that did settle serve on from where they stopped.
            for (int i = 0; i < workers.length; i++) {
                if (!unsettled.contains(i) && rings[i] != null && parked[i] != null && !workers[i].isRunning()) {
                    prepareQueue(i, rings[i], parked[i], false);
                }
            }
            LOG.log(Level.WARNING, "{0}: not suspended: queue(s) {1} still have requests in flight after {2} ms",
                    spec.name, unsettled, spec.settleTimeout.toMillis());
            return false;
        }
        suspended = true;
        LOG.log(Level.INFO, "{0}: suspended", spec.name);
        return true;
    }

    /**
     * {@code VDUSE_SET_VQ_GROUP_ASID}: queues of {@code group} translate through address space
     * {@code asid} from now on. Each running queue of the group is held between passes while its
     * ring is rebuilt over the new address space; the other queues go on.
     *
     * @return false for a group or address space the device did not declare, answered FAILED
     */
    boolean onGroupAsid(int group, int asid) {
        if (group < 0 || group >= groupAsid.length || asid < 0 || asid >= addressSpaces.length) {
            LOG.log(Level.WARNING, "{0}: group {1} to address space {2}: the device has {3} group(s) and {4} "
                    + "address space(s)", spec.name, group, asid, groupAsid.length, addressSpaces.length);
            return false;
        }
        if (groupAsid[group] == asid) {
            return true;
        }
        // Each running queue of the group settles and starts again over the new address space;
        // the other queues go on. (Linux refuses the switch while the driver runs, so on a real
        // kernel no queue is running here.)
        List<Integer> moving = new ArrayList<>();
        for (int i = 0; i < workers.length; i++) {
            if (groupOf(i) == group && workers[i].isRunning()) {
                moving.add(i);
                workers[i].requestStop(QueueStop.ADDRESS_SPACE_CHANGED);
            }
        }
        long deadline = System.nanoTime() + spec.settleTimeout.toNanos();
        List<Integer> stopped = new ArrayList<>();
        boolean settled = true;
        for (int i : moving) {
            QueueWorker.Stopped s = workers[i].stop(QueueStop.ADDRESS_SPACE_CHANGED,
                    Math.max(0, deadline - System.nanoTime()), false);
            if (s != null && s.settled()) {
                parked[i] = s.state();
                stopped.add(i);
            } else {
                settled = false;
            }
        }
        if (settled) {
            groupAsid[group] = asid;
        }
        for (int i : stopped) {
            // Over the new address space, or back over the old one if the switch is refused.
            prepareQueue(i, rings[i], parked[i], false);
        }
        if (!settled) {
            LOG.log(Level.WARNING, "{0}: group {1} stays in address space {2}: requests in flight did not complete "
                    + "within {3} ms", spec.name, group, groupAsid[group], spec.settleTimeout.toMillis());
            return false;
        }
        LOG.log(Level.INFO, "{0}: group {1} now in address space {2}", spec.name, group, asid);
        return true;
    }

    private int groupOf(int queue) {
        return groupAsid.length == 1 || queue >= spec.queueGroups.length ? 0 : spec.queueGroups[queue];
    }

    private AddressSpace addressSpaceOf(int queue) {
        return addressSpaces[groupAsid[groupOf(queue)]];
    }

    VqState queueState(int index) {
        if (index < 0 || index >= workers.length) {
            return null;
        }
        VqState state = workers[index].state();
        if (state != null) {
            return state;
        }
        if (parked[index] != null) {
            return parked[index];
        }
        return isPacked() ? new VqState.Packed(1, 0, 1, 0) : new VqState.Split(0);
    }

    /**
     * Message thread, between messages: releases memory retired by IOTLB updates that no request
     * in flight uses any more, and makes the switches to user bounce memory a miss asked for.
     */
    void betweenMessages() {
        reclaim.nudge();
        for (int asid = 0; asid < userBounce.length; asid++) {
            int space = asid;
            userBounce[asid].switchIfWanted(action -> whileQueuesHeld(space, action));
        }
    }

    /**
     * Runs {@code action} with no queue of address space {@code asid} serving: each running one
     * stops with its requests settled (within the settle timeout), and starts again from where it
     * stood over the address space as the action left it. If some queue does not settle in time,
     * the action does not run (the caller may ask again later) and every queue serves on.
     */
    private void whileQueuesHeld(int asid, Runnable action) {
        List<Integer> held = new ArrayList<>();
        for (int i = 0; i < workers.length; i++) {
            if (workers[i].isRunning() && workers[i].runningAsid() == asid) {
                held.add(i);
                workers[i].requestStop(QueueStop.MEMORY_CHANGED);
            }
        }
        long deadline = System.nanoTime() + spec.settleTimeout.toNanos();
        List<Integer> stopped = new ArrayList<>();
        boolean settled = true;
        for (int i : held) {
            QueueWorker.Stopped s = workers[i].stop(QueueStop.MEMORY_CHANGED, Math.max(0, deadline - System.nanoTime()),
                    false);
            if (s != null && s.settled()) {
                parked[i] = s.state();
                stopped.add(i);
            } else {
                settled = false;
            }
        }
        if (settled) {
            action.run();
        } else {
            LOG.log(Level.DEBUG, "{0}: requests in flight did not settle; the memory switch waits", spec.name);
        }
        for (int i : stopped) {
            prepareQueue(i, rings[i], parked[i], false);
        }
        answered(); // no message is being answered: start them now
    }

    /**
     * {@code VDUSE_UPDATE_IOTLB}: takes what is mapped in {@code [start, last]} of address space
     * {@code asid} out of translation, without waiting for any queue: the next translation of
     * those addresses asks the kernel again, each running queue re-slices its rings at its next
     * step, and the old memory stays mapped until the last request in flight that may use it
     * has completed (then it is unmapped). An update of a range the device never mapped leaves
     * the rings alone.
     *
     * @return false for an address space the device did not declare
     */
    boolean invalidate(int asid, long start, long last) {
        if (asid < 0 || asid >= addressSpaces.length) {
            LOG.log(Level.WARNING, "{0}: IOTLB update of address space {1}, of {2}", spec.name, asid,
                    addressSpaces.length);
            return false;
        }
        int retired = reclaim.retire(addressSpaces[asid], start, last);
        if (retired > 0) {
            for (QueueWorker worker : workers) {
                worker.signal();
            }
            reclaim.nudge();
        }
        IotlbUpdate event = new IotlbUpdate();
        if (event.shouldCommit()) {
            event.device = spec.name;
            event.asid = asid;
            event.start = start;
            event.last = last;
            event.mappingsRetired = retired;
            event.mappingsWaiting = reclaim.waiting().size();
            event.commit();
        }
        return true;
    }

    // ---- shutting down ----------------------------------------------------------------------------

    /**
     * Stops the device and destroys it in the kernel.
     *
     * @throws VduseException if the kernel refuses to destroy it (for example while it is attached
     *     to the vDPA bus: run {@code vdpa dev del NAME} first); the device is stopped either way
     */
    @Override
    public void close() throws VduseException {
        boolean stopping = stopProcess();
        try {
            destroy(kernel, spec.name);
        } catch (VduseException e) {
            if (stopping) {
                DeviceDetached event = new DeviceDetached();
                event.device = spec.name;
                event.reason = e.getMessage();
                event.commit();
            }
            throw e;
        }
        DeviceDestroyed event = new DeviceDestroyed();
        event.device = spec.name;
        event.commit();
        discardInflightLogs();
    }

    private void discardInflightLogs() {
        if (inflight != null) {
            inflight.discardAll(workers.length);
        }
    }

    /**
     * Stops this process's side of the device and leaves the device in the kernel, as a crash
     * would: a new process can take it over with {@link Builder#reconnect(boolean)}.
     */
    public void detach() throws VduseException {
        if (stopProcess()) {
            DeviceDetached event = new DeviceDetached();
            event.device = spec.name;
            event.reason = "detach()";
            event.commit();
        }
    }

    /** Stops serving; true if this call did, false if the device was stopped already. */
    private synchronized boolean stopProcess() throws VduseException {
        if (closed) {
            return false;
        }
        closed = true;
        management.stop();
        messages.stop();
        ErrnoException failure = null;
        long deadline = System.nanoTime() + spec.settleTimeout.toNanos();
        for (QueueWorker worker : workers) {
            worker.requestStop(QueueStop.CLOSED);
        }
        for (QueueWorker worker : workers) {
            try {
                worker.close(Math.max(0, deadline - System.nanoTime()));
            } catch (ErrnoException e) {
                failure = e;
            }
        }
        reclaim.releaseAll();
        reclaim.stop();
        for (UserBounceMemory memory : userBounce) {
            memory.close();
        }
        for (int asid = 0; asid < addressSpaces.length; asid++) {
            addressSpaces[asid].close();
            iotlbs[asid].releaseAll();
        }
        try {
            file.close();
        } catch (ErrnoException e) {
            failure = e;
        }
        arena.close();
        if (failure != null) {
            throw new VduseException("stopping " + spec.name + " left a descriptor behind", failure);
        }
        return true;
    }

    /**
     * Destroys the device {@code name} in the kernel ({@code VDUSE_DESTROY_DEV}).
     *
     * @throws VduseException saying why the kernel refused
     */
    public static void destroy(VduseKernel kernel, String name) throws VduseException {
        try (VduseFile control = kernel.openControl(); Arena arena = Arena.ofConfined()) {
            MemorySegment argument = arena.allocate(Vduse.NAME_MAX);
            byte[] bytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            MemorySegment.copy(bytes, 0, argument, Layouts.U8, 0, Math.min(bytes.length, Vduse.NAME_MAX - 1));
            control.ioctl(VduseIoctls.DESTROY_DEV, argument);
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EBUSY) {
                throw new VduseException("cannot destroy VDUSE device " + name
                        + ": it is still in use, attached to the vDPA bus or open by a process. "
                        + "Detach it first with: vdpa dev del " + name + " (" + e.getMessage() + ")", e);
            }
            if (e.errno() == Errno.EINVAL) {
                throw new VduseException("cannot destroy VDUSE device " + name + ": there is no such device ("
                        + e.getMessage() + ")", e);
            }
            throw new VduseException("cannot destroy VDUSE device " + name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "VduseDevice[" + spec.name + " on " + kernel.description() + ", status "
                + VirtioStatus.describe(status()) + "]";
    }

    /** Describes a device to create; {@link #start()} creates and starts it. */
    public static final class Builder {

        private final String name;
        private VduseKernel kernel = VduseKernel.linux();
        private int deviceId = -1;
        private int vendorId;
        private long features;
        private byte[] config = new byte[0];
        private int queueCount = 1;
        private int queueSize = 256;
        private int vqAlign = 4096;
        private long apiVersion = -1;
        private int groupCount = 1;
        private int[] queueGroups = new int[0];
        private int addressSpaces = 1;
        private long vduseFeatureMask = SUPPORTED_VDUSE_FEATURES;
        private QueueHandler.Factory handlers;
        private AsyncQueueHandler.Factory asyncHandlers;
        private Duration settleTimeout = DEFAULT_SETTLE_TIMEOUT;
        private boolean reconnect;
        private boolean busyPoll;
        private boolean userBounceMemory;
        private boolean inflightLog = true;
        private boolean managementBeans = true;
        private java.nio.file.Path inflightDirectory;
        private InflightLog.CrashHook inflightCrashHook;

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        /** The kernel to create the device in; the real one by default. */
        public Builder kernel(VduseKernel kernel) {
            this.kernel = Objects.requireNonNull(kernel, "kernel");
            return this;
        }

        /** The virtio device id (required), e.g. {@link io.vduse.api.virtio.VirtioDeviceId#BLOCK}. */
        public Builder deviceId(int deviceId) {
            this.deviceId = deviceId;
            return this;
        }

        /** The virtio subsystem vendor id; 0 by default. */
        public Builder vendorId(int vendorId) {
            this.vendorId = vendorId;
            return this;
        }

        /**
         * The features the device offers. {@code VIRTIO_F_VERSION_1} and
         * {@code VIRTIO_F_ACCESS_PLATFORM}, which VDUSE requires, are always added.
         */
        public Builder features(long features) {
            this.features = features;
            return this;
        }

        /** The initial config space, at most {@link Vduse#CONFIG_SIZE_MAX} bytes. */
        public Builder config(byte[] config) {
            this.config = Objects.requireNonNull(config, "config").clone();
            return this;
        }

        /** The number of virtqueues and the largest ring the device accepts for each. */
        public Builder queues(int count, int maxSize) {
            if (count < 1 || count > Vduse.VQ_NUM_MAX) {
                throw new IllegalArgumentException("queue count out of range 1..65535: " + count);
            }
            if (maxSize < 1 || maxSize > 32768) {
                throw new IllegalArgumentException("queue size out of range 1..32768: " + maxSize);
            }
            this.queueCount = count;
            this.queueSize = maxSize;
            return this;
        }

        /**
         * The alignment of split rings' used ring: a power of two from 4 to
         * {@link Vduse#VQ_ALIGN_MAX}; 4096 by default.
         */
        public Builder vqAlign(int vqAlign) {
            if (vqAlign < 4 || vqAlign > Vduse.VQ_ALIGN_MAX || Integer.bitCount(vqAlign) != 1) {
                throw new IllegalArgumentException("vq_align must be a power of two from 4 to 4096: " + vqAlign);
            }
            this.vqAlign = vqAlign;
            return this;
        }

        /**
         * The VDUSE API version to use: {@link Vduse#API_VERSION_0} or {@link Vduse#API_VERSION_1}.
         * By default the highest both the kernel and the SDK know (1 on Linux 7.3, 0 on 6.12).
         */
        public Builder apiVersion(long apiVersion) {
            if (apiVersion != Vduse.API_VERSION_0 && apiVersion != Vduse.API_VERSION_1) {
                throw new IllegalArgumentException("VDUSE API version must be 0 or 1: " + apiVersion);
            }
            this.apiVersion = apiVersion;
            return this;
        }

        /**
         * Virtqueue groups (API v1): {@code count} groups, queue {@code i} in group
         * {@code groupOfQueue[i]} (queues beyond the array in group 0). The kernel moves a group
         * between address spaces as a whole ({@code VDUSE_SET_VQ_GROUP_ASID}), e.g. to give a
         * VMM's shadow control queue an address space of its own. Default: one group.
         */
        public Builder queueGroups(int count, int... groupOfQueue) {
            if (count < 1 || count > Vduse.GROUPS_MAX) {
                throw new IllegalArgumentException("group count out of range 1..65535: " + count);
            }
            for (int i = 0; i < groupOfQueue.length; i++) {
                if (groupOfQueue[i] < 0 || groupOfQueue[i] >= count) {
                    throw new IllegalArgumentException("queue %d in group %d, of %d".formatted(i, groupOfQueue[i], count));
                }
            }
            this.groupCount = count;
            this.queueGroups = groupOfQueue.clone();
            return this;
        }

        /**
         * Address spaces (API v1), 1 to 65535; 1 by default. The kernel splits its bounce
         * buffer evenly between them.
         */
        public Builder addressSpaces(int count) {
            if (count < 1 || count > Vduse.ADDRESS_SPACES_MAX) {
                throw new IllegalArgumentException("address space count out of range 1..65535: " + count);
            }
            this.addressSpaces = count;
            return this;
        }

        /**
         * The VDUSE features (bits {@link Vduse#F_QUEUE_READY}, {@link Vduse#F_SUSPEND}) the
         * device may use, of those the kernel offers; by default every one the SDK handles. 0
         * turns them off: the kernel then neither asks before enabling a queue nor can suspend.
         */
        public Builder vduseFeatures(long mask) {
            this.vduseFeatureMask = mask;
            return this;
        }

        /** The handler of each queue, answering each request before the next (this or {@link #asyncHandlers}). */
        public Builder handlers(QueueHandler.Factory handlers) {
            this.handlers = Objects.requireNonNull(handlers, "handlers");
            this.asyncHandlers = null;
            return this;
        }

        /**
         * The handler of each queue, completing requests later, on any thread, in any order (this
         * or {@link #handlers}).
         */
        public Builder asyncHandlers(AsyncQueueHandler.Factory handlers) {
            this.asyncHandlers = Objects.requireNonNull(handlers, "handlers");
            this.handlers = null;
            return this;
        }

        /**
         * How long a reset, a suspend, a disabled queue or an address-space switch waits for the
         * requests in flight to complete; 5 seconds by default. After it, a reset or a disable
         * cancels them (their completions are dropped and their memory may be gone), and a
         * suspend or a switch is refused with the queues serving on. Keep it well below the
         * kernel's message timeout ({@code /sys/class/vduse/NAME/msg_timeout}, 30 s by default).
         */
        public Builder settleTimeout(Duration timeout) {
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("settle timeout is negative: " + timeout);
            }
            this.settleTimeout = timeout;
            return this;
        }

        /** One handler for every queue; it must then be safe on several threads. */
        public Builder handler(QueueHandler handler) {
            Objects.requireNonNull(handler, "handler");
            return handlers(index -> handler);
        }

        /** Take over an existing device of this name, left by a process that stopped; off by default. */
        public Builder reconnect(boolean reconnect) {
            this.reconnect = reconnect;
            return this;
        }

        /**
         * Hand the kernel the device's own memory as the bounce buffer ({@code VDUSE_IOTLB_REG_UMEM});
         * off by default. Under {@code virtio_vdpa} the kernel copies every buffer of the driver
         * through a bounce region of 64 MiB by default (sysfs {@code bounce_size}); with this the
         * region is anonymous memory of the device, pinned by the kernel, instead of the kernel's
         * pages mapped one fault at a time from its {@code [vduse-domain]} file. The switch happens
         * once the driver's first buffers are mapped (the kernel takes the memory only then), with
         * the queues held between passes, and again after every reset; the device gives the
         * memory back at each reset and at close.
         *
         * <p>The kernel counts the memory against {@code RLIMIT_MEMLOCK}: the SDK raises the
         * process's limit when it is lower and the process may (as root); if the kernel refuses,
         * the device says why once and goes on with the kernel's pages. No effect under
         * {@code vhost_vdpa}, where there is no bounce region.
         */
        public Builder userBounceMemory(boolean userBounceMemory) {
            this.userBounceMemory = userBounceMemory;
            return this;
        }

        /** Spin on the rings instead of waiting for kicks: lower latency, one busy core per queue. */
        public Builder busyPoll(boolean busyPoll) {
            this.busyPoll = busyPoll;
            return this;
        }

        /**
         * Keeps each queue's in-flight log in {@code directory}/NAME/queue-N.inflight (the
         * directory is made if missing) instead of under {@link VduseKernel#runtimeDirectory()}.
         * The log is a small file mapped shared that says which requests are in flight, so that a
         * process taking the device over ({@link #reconnect(boolean)}) after this one was killed
         * serves each of them again, none twice, in whatever order they completed, on split and
         * packed rings. Keep it where the next process will look (the same directory), on a
         * file system in memory ({@code /run} is tmpfs): it outlives a process, not the machine,
         * as the device itself does.
         */
        public Builder inflightLog(java.nio.file.Path directory) {
            this.inflightDirectory = Objects.requireNonNull(directory, "directory");
            this.inflightLog = true;
            return this;
        }

        /**
         * Whether to keep the in-flight logs ({@link #inflightLog(java.nio.file.Path)}); on by
         * default. Without them a reconnecting process resumes a split ring at its used index
         * (exact only if requests completed in the order they came) and cannot resume a packed
         * ring at all.
         */
        public Builder inflightLog(boolean enabled) {
            this.inflightLog = enabled;
            return this;
        }

        /**
         * Whether the device registers its MXBeans ({@link io.vduse.core.management.DeviceMXBean},
         * {@link io.vduse.core.management.QueueMXBean}) in the platform MBean server while it is
         * served; on by default.
         */
        public Builder managementBeans(boolean enabled) {
            this.managementBeans = enabled;
            return this;
        }

        /** For tests: called at every step of the in-flight log, from the queue threads. */
        Builder inflightCrashHook(InflightLog.CrashHook hook) {
            this.inflightCrashHook = hook;
            return this;
        }

        /**
         * Creates the device in the kernel (or takes over an existing one with
         * {@link #reconnect(boolean)}), opens it, sets up its queues and starts answering its
         * control messages.
         *
         * <p>When it returns the device is ready to be attached: its queues are set up
         * ({@code VDUSE_VQ_SETUP}; the kernel refuses {@code vdpa dev add} with {@code EINVAL}
         * before that, although {@code /dev/vduse/NAME} exists from {@code VDUSE_CREATE_DEV} on)
         * and its control messages are answered. {@link io.vduse.core.vdpa.VdpaBus#add} attaches it.
         *
         * @throws VduseException naming what failed and why
         */
        public VduseDevice start() throws VduseException {
            if (deviceId < 0) {
                throw new IllegalStateException("deviceId is required");
            }
            if (handlers == null && asyncHandlers == null) {
                throw new IllegalStateException("handlers are required");
            }
            if (name.contains("/")) {
                // The kernel would take it, but its node would be /dev/vduse/ with '!' for '/'.
                throw new IllegalArgumentException("device name '" + name + "' contains '/': "
                        + "the kernel would name its node /dev/vduse/" + name.replace('/', '!') + "; use another name");
            }
            long allFeatures = features | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                    | VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM);
            long version;
            long vduseFeatures = 0;
            VduseDevConfig devConfig = null;
            boolean created = false;
            boolean existed;
            try (VduseFile control = open(kernel::openControl, "open /dev/vduse/control");
                    Arena arena = Arena.ofConfined()) {
                MemorySegment value = arena.allocate(8);
                version = negotiateApiVersion(control, value);
                boolean exists = kernel.deviceExists(name);
                existed = exists;
                if (exists && !reconnect) {
                    throw new VduseException("a VDUSE device named " + name + " exists already: destroy it, "
                            + "pick another name, or reconnect to it");
                }
                if (!exists) {
                    vduseFeatures = negotiateVduseFeatures(control, value);
                    boolean v1 = version >= Vduse.API_VERSION_1;
                    devConfig = new VduseDevConfig(name, vendorId, deviceId, allFeatures, queueCount, vqAlign,
                            v1 ? groupCount : 0, v1 ? addressSpaces : 0, config);
                    MemorySegment argument = arena.allocate(devConfig.byteSize());
                    devConfig.writeTo(argument);
                    try {
                        control.ioctl(VduseIoctls.CREATE_DEV, argument);
                    } catch (ErrnoException e) {
                        throw new VduseException("cannot create VDUSE device " + name + explainCreate(e, devConfig,
                                version), e);
                    }
                    created = true;
                }
            } catch (ErrnoException e) {
                throw new VduseException("cannot create VDUSE device " + name + explain(e), e);
            }
            VduseFile file = null;
            VduseDevice device = null;
            try {
                file = open(() -> kernel.openDevice(name), "open /dev/vduse/" + name);
                device = new VduseDevice(this, version, vduseFeatures, file);
                device.setUpQueues(existed);
                int resumed = 0;
                if (existed) {
                    resumed = device.resume();
                } else {
                    device.discardInflightLogs(); // of an earlier device of the same name
                }
                // Recorded before the first message can be: a recording reads created, then status changes.
                if (existed) {
                    device.recordReconnected(resumed);
                } else {
                    device.recordCreated(devConfig);
                }
                device.messages.start();
                device.management.start();
                return device;
            } catch (VduseException | ErrnoException | RuntimeException e) {
                // Undo what this call did: stop the half-started device, close its file, and
                // destroy the device if this call created it.
                try {
                    if (device != null) {
                        device.detach();
                    } else if (file != null) {
                        file.close();
                    }
                } catch (VduseException | ErrnoException cleanup) {
                    e.addSuppressed(cleanup);
                }
                if (created) {
                    try {
                        destroy(kernel, name);
                    } catch (VduseException cleanup) {
                        e.addSuppressed(cleanup);
                    }
                }
                if (e instanceof ErrnoException errno) {
                    throw new VduseException("cannot start VDUSE device " + name + explain(errno), errno);
                }
                if (e instanceof VduseException vduse) {
                    throw vduse;
                }
                throw (RuntimeException) e;
            }
        }

        /** Sets the API version to use on {@code control} and returns it. */
        private long negotiateApiVersion(VduseFile control, MemorySegment value) throws ErrnoException, VduseException {
            control.ioctl(VduseIoctls.GET_API_VERSION, value);
            long offered = value.get(Layouts.U64, 0);
            boolean needsV1 = groupCount > 1 || addressSpaces > 1;
            long version = apiVersion >= 0 ? apiVersion : Math.min(offered, Vduse.API_VERSION_1);
            if (Long.compareUnsigned(version, offered) > 0) {
                throw new VduseException("VDUSE API version %d asked for, the kernel offers up to %d"
                        .formatted(version, offered));
            }
            if (needsV1 && version < Vduse.API_VERSION_1) {
                throw new VduseException(("%d virtqueue group(s) and %d address space(s) need VDUSE API version 1; "
                        + "the kernel offers up to %d (Linux 7.3 has version 1)")
                        .formatted(groupCount, addressSpaces, offered));
            }
            value.set(Layouts.U64, 0, version);
            control.ioctl(VduseIoctls.SET_API_VERSION, value);
            return version;
        }

        /**
         * Sets the VDUSE features the device will use on {@code control}: those asked for that the
         * kernel offers. A kernel without them (Linux 6.12) refuses {@code VDUSE_GET_FEATURES}:
         * then there are none.
         */
        private long negotiateVduseFeatures(VduseFile control, MemorySegment value) throws ErrnoException {
            try {
                control.ioctl(VduseIoctls.GET_FEATURES, value);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EINVAL || e.errno() == Errno.ENOTTY) {
                    return 0;
                }
                throw e;
            }
            long wanted = value.get(Layouts.U64, 0) & vduseFeatureMask & SUPPORTED_VDUSE_FEATURES;
            if (wanted != 0) {
                value.set(Layouts.U64, 0, wanted);
                control.ioctl(VduseIoctls.SET_FEATURES, value);
            }
            return wanted;
        }

        /**
         * Why {@code CREATE_DEV} failed: for {@code EINVAL}, which kernel rule the description
         * breaks under the API version in use (the kernel does not say).
         */
        private static String explainCreate(ErrnoException e, VduseDevConfig devConfig, long version) {
            if (e.errno() != Errno.EINVAL) {
                return explain(e);
            }
            // The API version tells the kernel generation apart: only 7.3's rules apply under API v1.
            String rule = CreateDevRules.violation(devConfig, false, version, version >= Vduse.API_VERSION_1)
                    .orElse(null);
            if (rule != null) {
                return ": " + e.getMessage() + ". The kernel refused the device's description: " + rule;
            }
            return ": " + e.getMessage() + ". The kernel refused the device's description under VDUSE API version "
                    + version + (version >= Vduse.API_VERSION_1
                            ? " (ngroups and nas 1..65535, here " + devConfig.ngroups() + " and " + devConfig.nas() + "; "
                            : " (ngroups and nas 0; ")
                    + "device id block or net (or fs on Linux 7.3), here " + devConfig.deviceId()
                    + "; VIRTIO_F_ACCESS_PLATFORM; virtio-blk without CONFIG_WCE; config space at most 4096 bytes, here "
                    + devConfig.config().length + "; vq_align a power of two from 4 to 4096, here "
                    + devConfig.vqAlign() + "), or a name the kernel does not take: " + devConfig.name();
        }

        private interface Opener {
            VduseFile open() throws ErrnoException;
        }

        private static VduseFile open(Opener opener, String what) throws VduseException {
            try {
                return opener.open();
            } catch (ErrnoException e) {
                throw new VduseException(what + explain(e), e);
            }
        }

        private static String explain(ErrnoException e) {
            return switch (e.errno()) {
                case Errno.ENOENT -> ": " + e.getMessage()
                        + ". Is the vduse module loaded? (modprobe vduse; modprobe virtio_vdpa)";
                case Errno.EACCES, Errno.EPERM -> ": " + e.getMessage() + ". VDUSE needs root (or CAP_SYS_ADMIN)";
                case Errno.EBUSY -> ": " + e.getMessage() + ". Another process holds the device open";
                case Errno.EEXIST -> ": " + e.getMessage() + ". A device of that name exists";
                case Errno.EINVAL -> ": " + e.getMessage() + ". The kernel refused the device's description "
                        + "(allowed device ids are block and net, and fs on Linux 7.3; VIRTIO_F_ACCESS_PLATFORM is required; "
                        + "virtio-blk must not offer CONFIG_WCE; config space and vq_align at most 4096 bytes)";
                default -> ": " + e.getMessage();
            };
        }
    }

    /**
     * Takes over a device whose driver is already running, after the process that served it
     * stopped (killed, say). The kernel does not repeat {@code DRIVER_OK}, so a driver past
     * {@code FEATURES_OK} (features reported) with ready queues is taken as running.
     *
     * <p>Each ready queue with an in-flight log ({@link InflightLog}) resumes from it: the
     * requests the old process had taken and not published are served again, in the order it
     * took them, before anything new is popped from where it had got to; none it published is
     * served again, on split and packed rings, whatever order they completed in. Without a log a
     * split ring resumes at {@code last_avail_idx = used->idx}, which is exact only if requests
     * completed in the order they came (chains popped but not published are popped again; with
     * out-of-order completion some published ones are popped again too, and some unpublished
     * ones lie below that index and are lost); a packed ring keeps no used index in memory and
     * stays stopped. One interrupt per resumed queue covers completions the old process
     * published without interrupting.
     */
    private int resume() throws ErrnoException {
        long negotiated = driverFeatures();
        if (negotiated == 0) {
            LOG.log(Level.INFO, "{0}: reconnected before the driver negotiated features", spec.name);
            return 0;
        }
        negotiatedFeatures = negotiated;
        boolean packed = VirtioFeatures.has(negotiated, VirtioFeatures.RING_PACKED);
        int resumed = 0;
        for (int i = 0; i < workers.length; i++) {
            VduseVqInfo vq = queueInfo(i, packed);
            if (!vq.ready()) {
                continue;
            }
            InflightLog log = inflight != null ? inflight.recover(i, vq, packed, addressSpaceOf(i)) : null;
            if (log != null) {
                if (prepareQueue(i, vq, log.recoveredState(), true, log)) {
                    resumed++;
                }
                continue;
            }
            if (spec.asyncHandlers != null) {
                // Out-of-order completions leave used->idx counting requests that are not a
                // prefix of the ring: resuming there would serve some twice and lose others.
                needsReset = true;
                LOG.log(Level.ERROR, "{0}: queue {1} was served by an asynchronous handler, whose requests may have "
                        + "completed out of order; without an in-flight log it cannot be resumed safely and stays "
                        + "stopped until the driver resets the device", spec.name, i);
                recordBroken(i, "NOT_RESUMABLE", "served by an asynchronous handler, without an in-flight log");
                continue;
            }
            if (packed) {
                // A packed ring keeps no used index in memory to resume from.
                needsReset = true;
                LOG.log(Level.ERROR, "{0}: queue {1} is a packed ring, which cannot be resumed after a restart "
                        + "without its in-flight log; it stays stopped until the driver resets the device", spec.name, i);
                recordBroken(i, "NOT_RESUMABLE", "a packed ring, without an in-flight log");
                continue;
            }
            LOG.log(Level.WARNING, "{0}: queue {1} resumes at the used ring''s index, without an in-flight log: "
                    + "exact only if the old process completed requests in the order they came", spec.name, i);
            int usedIdx = Short.toUnsignedInt(addressSpaceOf(i).slice(vq.deviceAddr() + io.vduse.api.virtio.SplitRing.USED_IDX,
                    2, io.vduse.iova.Access.READ).get(Layouts.LE16, 0));
            // One interrupt per resumed queue covers completions the old process published
            // without interrupting. The queue owes it rather than injecting it here: if the old
            // process died before answering DRIVER_OK, the kernel refuses interrupts until this
            // process has answered it again.
            if (prepareQueue(i, vq, new VqState.Split(usedIdx), true)) {
                resumed++;
            }
        }
        answered();
        if (resumed > 0) {
            status = VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK;
        }
        LOG.log(Level.INFO, "{0}: reconnected, {1} queue(s) resumed, features 0x{2}", spec.name, resumed,
                Long.toHexString(negotiated));
        return resumed;
    }

    private void recordCreated(VduseDevConfig created) {
        DeviceCreated event = new DeviceCreated();
        if (event.shouldCommit()) {
            event.device = spec.name;
            event.kernel = kernel.description();
            event.deviceId = spec.deviceId;
            event.apiVersion = apiVersion;
            event.features = created.features();
            event.vduseFeatures = vduseFeatures;
            event.queues = workers.length;
            event.queueSize = spec.queueSize;
            event.commit();
        }
    }

    private void recordReconnected(int resumed) {
        reconnected = true;
        DeviceReconnected event = new DeviceReconnected();
        if (event.shouldCommit()) {
            event.device = spec.name;
            event.apiVersion = apiVersion;
            event.negotiatedFeatures = negotiatedFeatures;
            event.queues = workers.length;
            event.queuesResumed = resumed;
            event.commit();
        }
    }

    /** The features the driver accepted ({@code VDUSE_DEV_GET_FEATURES}); 0 before FEATURES_OK. */
    private long driverFeatures() throws ErrnoException {
        file.ioctl(VduseIoctls.DEV_GET_FEATURES, u64Argument);
        return u64Argument.get(Layouts.U64, 0);
    }

    /** Where the driver set queue {@code index} up ({@code VDUSE_VQ_GET_INFO}). */
    private VduseVqInfo queueInfo(int index, boolean packed) throws ErrnoException {
        VduseVqInfo.writeQuery(vqInfoArgument, index);
        file.ioctl(VduseIoctls.VQ_GET_INFO, vqInfoArgument);
        return VduseVqInfo.readFrom(vqInfoArgument, packed);
    }

    /**
     * Declares each queue's largest ring and its group ({@code VDUSE_VQ_SETUP}).
     *
     * @param reconnecting whether the device exists from an earlier process: from API v1 on,
     *     Linux 7.3 refuses {@code VQ_SETUP} while the driver runs, and keeps the earlier setup
     */
    private void setUpQueues(boolean reconnecting) throws ErrnoException {
        MemorySegment vqConfig = arena.allocate(VduseVqConfig.LAYOUT);
        for (int i = 0; i < workers.length; i++) {
            new VduseVqConfig(i, spec.queueSize, apiVersion >= Vduse.API_VERSION_1 ? groupOf(i) : 0)
                    .writeTo(vqConfig);
            try {
                file.ioctl(VduseIoctls.VQ_SETUP, vqConfig);
            } catch (ErrnoException e) {
                if (!(reconnecting && apiVersion >= Vduse.API_VERSION_1 && e.errno() == Errno.EINVAL)) {
                    throw e;
                }
                LOG.log(Level.DEBUG, "{0}: queue {1} keeps the setup of the earlier process while the driver runs",
                        spec.name, i);
            }
        }
        setUpKickFds();
    }

    /** Gives the kernel each queue's kick eventfd ({@code VDUSE_VQ_SETUP_KICKFD}). */
    private void setUpKickFds() throws ErrnoException {
        for (int i = 0; i < workers.length; i++) {
            new VduseVqEventfd(i, workers[i].kickFd()).writeTo(kickArgument);
            file.ioctl(VduseIoctls.VQ_SETUP_KICKFD, kickArgument);
        }
    }
}
