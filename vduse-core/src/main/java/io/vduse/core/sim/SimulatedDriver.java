package io.vduse.core.sim;

import io.vduse.api.Vduse;
import io.vduse.api.VqState;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.EventFd;
import io.vduse.core.internal.MemfdDomainMemory;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.iova.CoherentBuffer;
import io.vduse.iova.DmaDirection;
import io.vduse.iova.DomainMapping;
import io.vduse.iova.IovaDomain;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A virtio driver for a device of the {@link SimulatedKernel}, behaving as {@code virtio_vdpa}
 * and a class driver do: attaches the device ({@code vdpa dev add}), resets it, runs the status
 * sequence (ACKNOWLEDGE, DRIVER, FEATURES_OK after negotiating features, DRIVER_OK), places the
 * rings in coherent memory of the device's IOVA domain and maps every buffer through the bounce
 * map. Kicks and interrupts are real eventfds.
 *
 * <pre>{@code
 * try (SimulatedDriver driver = SimulatedDriver.attach(kernel, "vduse0")) {
 *     Completion done = driver.submit(0, List.of(header, data), 1).get();
 * }
 * }</pre>
 */
public final class SimulatedDriver implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(SimulatedDriver.class.getName());

    /**
     * The answer to one request.
     *
     * @param usedLength the bytes the device says it wrote
     * @param writable the device-writable buffers as the device left them
     * @param usedOrder where the chain stood among the used elements the driver took from the
     *     queue's ring since the ring was set up: 0 for the first, then 1, 2, ... So completions
     *     sorted by it are in the device's completion order, which may differ from the order of
     *     submission.
     */
    public record Completion(int usedLength, List<byte[]> writable, long usedOrder) {}

    /**
     * How the driver sets the device up.
     *
     * @param featureMask the features the driver knows; negotiation keeps those the device offers
     * @param queueSize ring size per queue, at most the device's maximum
     * @param useIndirect whether to place chains of more than one buffer in indirect tables,
     *     where {@code VIRTIO_F_INDIRECT_DESC} was negotiated
     * @param bounceSize size of the bounce region of the IOVA domain
     */
    public record Options(long featureMask, int queueSize, boolean useIndirect, long bounceSize) {

        /** All features, 256-entry rings, direct chains, the kernel's default bounce size. */
        public static Options defaults() {
            return new Options(-1L, 256, false, Vduse.DEFAULT_BOUNCE_SIZE);
        }

        /** These options with another feature mask. */
        public Options withFeatureMask(long mask) {
            return new Options(mask, queueSize, useIndirect, bounceSize);
        }

        /** These options with another ring size. */
        public Options withQueueSize(int size) {
            return new Options(featureMask, size, useIndirect, bounceSize);
        }

        /** These options with or without indirect tables. */
        public Options withIndirect(boolean indirect) {
            return new Options(featureMask, queueSize, indirect, bounceSize);
        }
    }

    private final SimulatedDevice device;
    private final Options options;
    private final IovaDomain domain;
    private final EventFd[] callFds;
    private final EventFd stop;
    private final DriverRing[] rings;
    private final MemorySegment pollfds;
    private final MemorySegment kickScratch;
    /** Queues whose kicks {@link #holdKicks} holds back; set and read by the submitting thread. */
    private final boolean[] kicksHeld;
    private final AtomicInteger configInterrupts = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLongArray lookups;
    private final Thread interruptThread;
    private volatile boolean running = true;
    private long negotiated;

    private SimulatedDriver(SimulatedDevice device, Options options) throws ErrnoException {
        this.device = device;
        this.options = options;
        this.domain = new IovaDomain(options.bounceSize(), Vduse.COHERENT_SIZE, MemfdDomainMemory.FACTORY);
        this.lookups = new java.util.concurrent.atomic.AtomicLongArray(device.addressSpaceCount);
        int queues = device.config.vqNum();
        this.callFds = new EventFd[queues];
        for (int i = 0; i < queues; i++) {
            callFds[i] = new EventFd();
        }
        this.stop = new EventFd();
        this.rings = new DriverRing[queues];
        Arena arena = Arena.ofAuto();
        this.pollfds = arena.allocate(Syscalls.POLLFD, queues + 1L);
        for (int i = 0; i <= queues; i++) {
            pollfds.set(ValueLayout.JAVA_INT, i * 8L, i < queues ? callFds[i].fd() : stop.fd());
            pollfds.set(ValueLayout.JAVA_SHORT, i * 8L + 4, Syscalls.POLLIN);
        }
        this.kickScratch = arena.allocate(8);
        this.kicksHeld = new boolean[queues];
        this.interruptThread = Thread.ofPlatform().name("sim-driver-" + device.name).daemon(true)
                .unstarted(this::serveInterrupts);
    }

    /** Attaches the device with default options and brings it up. */
    public static SimulatedDriver attach(SimulatedKernel kernel, String name) throws ErrnoException {
        return attach(kernel, name, Options.defaults());
    }

    /**
     * Attaches the device ({@code vdpa dev add}) and brings it up to {@code DRIVER_OK}.
     *
     * @throws ErrnoException {@code ENODEV} if there is no such device, or what the bring-up hit
     *     (a device that refuses a status, or does not answer in time)
     */
    public static SimulatedDriver attach(SimulatedKernel kernel, String name, Options options)
            throws ErrnoException {
        SimulatedDriver driver = attachBeforeDriverOk(kernel, name, options);
        try {
            driver.driverOk();
        } catch (ErrnoException | RuntimeException e) {
            driver.closeQuietly();
            throw e;
        }
        return driver;
    }

    /**
     * Attaches the device and brings it up to {@code FEATURES_OK} with every queue set up and
     * ready, but without {@code DRIVER_OK}: the spec lets a driver make buffers available then
     * (a network driver fills its receive queue before it), and a test can stop the device
     * process here. {@link #driverOk()} finishes the bring-up.
     */
    public static SimulatedDriver attachBeforeDriverOk(SimulatedKernel kernel, String name, Options options)
            throws ErrnoException {
        SimulatedDevice device = kernel.device(name);
        if (device == null) {
            throw new ErrnoException("vdpa dev add " + name, Errno.ENODEV);
        }
        SimulatedDriver driver = new SimulatedDriver(device, options);
        device.attach(driver.interrupts(), driver::lookup, driver.domain);
        driver.interruptThread.start();
        try {
            driver.bringUpToFeaturesOk();
        } catch (ErrnoException | RuntimeException e) {
            driver.closeQuietly();
            throw e;
        }
        return driver;
    }

    private SimulatedDevice.Interrupts interrupts() {
        return new SimulatedDevice.Interrupts() {
            @Override
            public void queue(int index) {
                try {
                    callFds[index].signal();
                } catch (ErrnoException e) {
                    throw new IllegalStateException(e);
                }
            }

            @Override
            public void config() {
                configInterrupts.incrementAndGet();
            }
        };
    }

    /**
     * The device's IOTLB. Every address space of a device created with several is a mirror of the
     * driver's one IOVA domain (the same IOVAs reach the same memory), so that a group moved to
     * another address space keeps its rings and buffers while the device must look them up there;
     * {@link #lookups(int)} counts the lookups per address space.
     */
    private IotlbLookup.Entry lookup(int asid, long start, long last) {
        lookups.incrementAndGet(asid);
        DomainMapping m = domain.findMapping(start, last).orElse(null);
        return m == null ? null : new IotlbLookup.Entry(m.start(), m.last(), m.offset(), m.access().vdusePerm(),
                m.memory().fd());
    }

    private int bringUpStatus;

    private void bringUpToFeaturesOk() throws ErrnoException {
        device.setStatus(0);
        int status = VirtioStatus.ACKNOWLEDGE;
        device.setStatus(status);
        status |= VirtioStatus.DRIVER;
        device.setStatus(status);
        negotiated = device.deviceFeatures() & options.featureMask();
        device.setDriverFeatures(negotiated);
        status |= VirtioStatus.FEATURES_OK;
        device.setStatus(status);
        for (int i = 0; i < rings.length; i++) {
            rings[i] = setUpQueue(i);
        }
        bringUpStatus = status;
    }

    /**
     * Sets {@code DRIVER_OK}, after {@link #attachBeforeDriverOk}; returns once the device answered.
     *
     * @throws ErrnoException if the device refused it or did not answer within the message timeout
     */
    public void driverOk() throws ErrnoException {
        device.setStatus(bringUpStatus | VirtioStatus.DRIVER_OK);
    }

    /**
     * Before {@link #driverOk()}: moves queue {@code queue}'s descriptor table to an IOVA nothing
     * maps, as a buggy or hostile driver could; the device must refuse that queue only.
     */
    public void misplaceRing(int queue) throws ErrnoException {
        Objects.checkIndex(queue, rings.length);
        DriverRing ring = rings[queue];
        device.setQueue(queue, ring.size(), UNMAPPED_IOVA, ring.areaIova(1), ring.areaIova(2));
    }

    /**
     * While the device runs: unmaps queue {@code queue}'s ring areas and tells the device
     * ({@code VDUSE_UPDATE_IOTLB} over each), as a driver that frees a ring it still uses would.
     * The device must stop that queue only.
     */
    public void unmapRing(int queue) throws ErrnoException {
        Objects.checkIndex(queue, rings.length);
        List<CoherentBuffer> areas = rings[queue].areas();
        for (CoherentBuffer area : List.copyOf(areas)) {
            domain.freeCoherent(area);
            device.updateIotlb(area.iova(), area.iova() + area.size() - 1);
        }
        areas.clear(); // freed: not again when the driver closes

    }

    /** An IOVA far beyond any the simulated domain hands out. */
    private static final long UNMAPPED_IOVA = 0x7f00_0000_0000L;

    private DriverRing setUpQueue(int index) throws ErrnoException {
        SimulatedQueue q = device.queue(index, "setup");
        int size = Math.min(options.queueSize(), q.maxSize);
        boolean packed = VirtioFeatures.has(negotiated, VirtioFeatures.RING_PACKED);
        List<CoherentBuffer> areas = new ArrayList<>();
        CoherentBuffer desc = domain.allocCoherent(16L * size);
        CoherentBuffer driverArea = domain.allocCoherent(packed ? PackedRing.EVENT_SUPPRESS_SIZE
                : SplitRing.availRingSize(size));
        CoherentBuffer deviceArea = domain.allocCoherent(packed ? PackedRing.EVENT_SUPPRESS_SIZE
                : SplitRing.usedRingSize(size));
        areas.add(desc);
        areas.add(driverArea);
        areas.add(deviceArea);
        device.setQueue(index, size, desc.iova(), driverArea.iova(), deviceArea.iova());
        // As virtio_vdpa does: a fresh packed ring starts with both wrap counters set.
        device.setQueueState(index, packed ? new VqState.Packed(1, 0, 1, 0) : new VqState.Split(0));
        device.setQueueReady(index, true);
        boolean indirect = options.useIndirect() && VirtioFeatures.has(negotiated, VirtioFeatures.INDIRECT_DESC);
        return new DriverRing(domain, size, desc.memory(), driverArea.memory(), deviceArea.memory(), negotiated,
                indirect, areas, packed);
    }

    /** The features both sides agreed on. */
    public long negotiatedFeatures() {
        return negotiated;
    }

    /** The device's config space as the driver reads it now. */
    public byte[] config() {
        return device.readConfig();
    }

    /** How many config interrupts the device injected. */
    public int configInterrupts() {
        return configInterrupts.get();
    }

    /** The status last set. */
    public int status() {
        return device.status();
    }

    /** The size of the rings. */
    public int queueSize(int queue) {
        return rings[queue].size();
    }

    /**
     * Makes a request available on {@code queue} and kicks the device if it asked to be kicked.
     * Waits while the ring is full.
     *
     * @param readable the buffers the device reads, in order
     * @param writableLengths the sizes of the buffers the device writes, after them
     * @return completes when the device returns the chain
     */
    public CompletableFuture<Completion> submit(int queue, List<byte[]> readable, int... writableLengths)
            throws ErrnoException {
        Objects.checkIndex(queue, rings.length);
        DriverRing ring = rings[queue];
        CompletableFuture<Completion> done = ring.add(readable, writableLengths);
        if (ring.kickPrepare() && !kicksHeld[queue]) {
            device.kick(queue, kickScratch);
        }
        return done;
    }

    /**
     * Holds back the kicks of {@code queue} ({@code true}), as a driver does that adds a batch of
     * requests and then notifies once (Linux's blk-mq with {@code bd->last}); releasing them
     * ({@code false}) kicks the device once for all that was made available meanwhile.
     */
    public void holdKicks(int queue, boolean hold) throws ErrnoException {
        Objects.checkIndex(queue, rings.length);
        kicksHeld[queue] = hold;
        if (!hold) {
            rings[queue].kickPrepare();
            device.kick(queue, kickScratch); // once, whatever the ring asked: a spare kick is harmless
        }
    }

    /**
     * A request for {@code queue} with buffers of these lengths, allocated once in the driver's
     * coherent memory, to be sent again and again without allocating (see {@link FixedRequest}).
     */
    public FixedRequest fixedRequest(int queue, int[] readableLengths, int[] writableLengths) {
        Objects.checkIndex(queue, rings.length);
        int count = readableLengths.length + writableLengths.length;
        if (count == 0) {
            throw new IllegalArgumentException("a request needs at least one buffer");
        }
        int[] lengths = new int[count];
        long total = 0;
        for (int i = 0; i < count; i++) {
            lengths[i] = i < readableLengths.length ? readableLengths[i] : writableLengths[i - readableLengths.length];
            if (lengths[i] <= 0) {
                throw new IllegalArgumentException("buffer " + i + " is empty");
            }
            total += lengths[i];
        }
        CoherentBuffer memory = domain.allocCoherent(total);
        long[] iovas = new long[count];
        MemorySegment[] buffers = new MemorySegment[count];
        long at = 0;
        for (int i = 0; i < count; i++) {
            iovas[i] = memory.iova() + at;
            buffers[i] = memory.memory().asSlice(at, lengths[i]);
            at += lengths[i];
        }
        return new FixedRequest(queue, iovas, lengths, buffers, readableLengths.length);
    }

    /**
     * Makes {@code request} available on its queue and kicks the device if it asked to be
     * kicked, allocating nothing; waits while the ring is full.
     *
     * @throws IllegalStateException if the request is still in flight
     */
    public void submit(FixedRequest request) throws ErrnoException {
        DriverRing ring = rings[request.queue()];
        ring.add(request);
        if (ring.kickPrepare()) {
            device.kick(request.queue(), kickScratch);
        }
    }

    /** How many IOTLB lookups ({@code IOTLB_GET_FD}, {@code IOTLB_GET_FD2}) named address space {@code asid}. */
    public long lookups(int asid) {
        return lookups.get(asid);
    }

    /**
     * Suspends the device, as vhost-vdpa's {@code VHOST_VDPA_SUSPEND} does (QEMU on a VM stop):
     * the kernel sends {@code VDUSE_SUSPEND} and, after an OK answer, drops kicks and interrupts
     * until the next reset. Requests made available afterwards wait.
     *
     * @throws ErrnoException {@code EOPNOTSUPP} if the device was created without
     *     {@code VDUSE_F_SUSPEND}; {@code EIO} if it refused
     */
    public void suspend() throws ErrnoException {
        device.suspend();
    }

    /**
     * Disables queue {@code queue} and reads where it stopped, as vhost-vdpa does on
     * {@code VHOST_VDPA_SET_VRING_ENABLE} 0 followed by {@code VHOST_GET_VRING_BASE}.
     *
     * @return the queue's state as the device reported it
     */
    public VqState disableQueue(int queue) throws ErrnoException {
        device.setQueueReady(queue, false);
        return device.vqState(queue);
    }

    /**
     * Enables queue {@code queue} again ({@code VHOST_VDPA_SET_VRING_ENABLE} 1). As vhost-vdpa
     * refuses {@code VHOST_SET_VRING_BASE} while the driver runs, the kernel's record of the
     * queue's state stays what was set before {@code DRIVER_OK}: the device must go on from where
     * it stopped.
     */
    public void enableQueue(int queue) throws ErrnoException {
        device.setQueueReady(queue, true);
        device.kick(queue, kickScratch);
    }

    /** Moves virtqueue group {@code group} to address space {@code asid} ({@code VHOST_VDPA_SET_GROUP_ASID}). */
    public void setGroupAsid(int group, int asid) throws ErrnoException {
        device.setGroupAsid(group, asid);
    }

    /**
     * The longest the device took to answer each kind of control message ({@code "SetStatus"},
     * {@code "UpdateIotlb"}, {@code "GetVqState"}, ... as the message records are named) since the
     * device was made or {@link #clearAnswerTimes()}: what the kernel holds against its message
     * timeout.
     */
    public java.util.Map<String, java.time.Duration> slowestAnswers() {
        return device.messages.slowestAnswers();
    }

    /** Forgets the answer times {@link #slowestAnswers()} reports. */
    public void clearAnswerTimes() {
        device.messages.clearAnswerTimes();
    }

    /** Asks the device for a queue's state ({@code VDUSE_GET_VQ_STATE}). */
    public VqState queueState(int queue) throws ErrnoException {
        return device.vqState(queue);
    }

    /** Tells the device that mappings in {@code [start, last]} changed ({@code VDUSE_UPDATE_IOTLB}). */
    public void updateIotlb(long start, long last) throws ErrnoException {
        device.updateIotlb(start, last);
    }

    /** The same for address space {@code asid} (API v1; vhost-vdpa's IOTLB messages carry it). */
    public void updateIotlb(int asid, long start, long last) throws ErrnoException {
        device.updateIotlb(asid, start, last);
    }

    /** Sends a message of a type the kernel does not define; the device's result code. */
    public int sendUnknownMessage(int type) throws ErrnoException {
        return device.sendUnknownMessage(type);
    }

    /**
     * Sends {@code VDUSE_GET_VQ_STATE} for {@code queue} as it is, even out of range (the kernel
     * would not), and returns the device's result code. For testing a device's checks.
     */
    public int sendGetVqState(int queue) throws ErrnoException {
        return device.sendGetVqState(queue);
    }

    /**
     * Fault injection: moves the available index of a split ring further ahead than the ring is
     * long, as a buggy or hostile driver could, and kicks. The device must stop that queue.
     *
     * @throws UnsupportedOperationException on a packed ring, which has no available index
     */
    public void corruptAvailIndex(int queue) throws ErrnoException {
        rings[queue].corruptAvailIndex();
        device.kick(queue, kickScratch);
    }

    /**
     * Chains the device returned on {@code queue} that were not in flight: a request completed
     * twice, or an id never made available. A correct device keeps this at 0.
     */
    public int strayCompletions(int queue) {
        return rings[queue].strayCompletions();
    }

    /** Chains made available on {@code queue} and not yet returned. */
    public int inFlight(int queue) {
        return rings[queue].inFlight();
    }

    /** Resets the device and brings it up again, with fresh rings; requests in flight fail. */
    public void reset() throws ErrnoException {
        device.setStatus(0);
        for (DriverRing ring : rings) {
            ring.abandon("the driver reset the device");
        }
        if (domain.resetBounceMap()) {
            device.updateIotlb(0, options.bounceSize() - 1);
        }
        bringUpToFeaturesOk();
        driverOk();
    }

    /**
     * Resets the device and detaches it ({@code vdpa dev del}); nothing once closed (a second
     * reset would wait the kernel's message timeout for a device that may be gone).
     */
    @Override
    public void close() throws ErrnoException {
        if (!running) {
            return;
        }
        try {
            if (!device.broken()) {
                device.setStatus(0);
            }
        } finally {
            closeQuietly();
        }
    }

    private void closeQuietly() {
        if (!running) {
            return;
        }
        running = false;
        try {
            stop.signal();
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "cannot stop the interrupt thread", e);
        }
        try {
            interruptThread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (DriverRing ring : rings) {
            if (ring != null) {
                ring.abandon("the driver detached");
            }
        }
        device.detach();
        try {
            for (EventFd fd : callFds) {
                fd.close();
            }
            stop.close();
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "closing the driver's eventfds failed", e);
        }
        domain.close();
    }

    private void serveInterrupts() {
        while (running) {
            try {
                Syscalls.poll(pollfds, rings.length + 1, 1000);
                for (int i = 0; i < rings.length; i++) {
                    if (callFds[i].drain() != 0 && rings[i] != null) {
                        rings[i].collect();
                    }
                }
                stop.drain();
            } catch (ErrnoException | RuntimeException e) {
                if (running) {
                    LOG.log(Level.ERROR, "simulated driver interrupt thread failed", e);
                }
            }
        }
    }

    /** How long {@link #submit} waits for room in a full ring. */
    static final Duration FULL_RING_WAIT = Duration.ofSeconds(30);
}
