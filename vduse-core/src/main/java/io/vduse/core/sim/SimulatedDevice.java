package io.vduse.core.sim;

import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.VduseRequest;
import io.vduse.api.VduseResponse;
import io.vduse.api.VqState;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.iova.IovaDomain;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

/**
 * The kernel's model of one VDUSE device ({@code struct vduse_dev}): what the device declared,
 * what the driver set up, and the control messages between them. The device process reaches it
 * through {@link SimulatedDeviceFile}; the driver side through the methods named for the
 * {@code vdpa_config_ops} they stand for.
 */
final class SimulatedDevice {

    /** What the driver side is told when the device interrupts. */
    interface Interrupts {
        /** {@code VDUSE_VQ_INJECT_IRQ} for queue {@code index}. */
        void queue(int index);

        /** {@code VDUSE_DEV_INJECT_CONFIG_IRQ}. */
        void config();
    }

    private static final Interrupts NO_DRIVER = new Interrupts() {
        @Override
        public void queue(int index) {}

        @Override
        public void config() {}
    };

    final String name;
    final VduseDevConfig config;
    final long apiVersion;
    /** The VDUSE features the control file had when the device was created. */
    final long vduseFeatures;
    /** {@code ngroups} and {@code nas} as the kernel keeps them: 1 each below API v1. */
    final int groupCount;
    final int addressSpaceCount;
    final MessageQueue messages;
    private final byte[] configSpace;
    private final SimulatedQueue[] queues;
    private final Duration messageTimeout;

    private int status;
    /** Set by an answered {@code VDUSE_SUSPEND}; kicks and interrupts are dropped until a reset. */
    private boolean suspended;
    /** The address space of each virtqueue group; every group starts in 0. */
    private final int[] groupAsid;
    private long driverFeatures;
    private boolean featuresAccepted;
    private boolean open;
    private boolean attached;
    private volatile Interrupts interrupts = NO_DRIVER;
    private volatile IotlbLookup iotlb;

    /**
     * {@code dev->as[asid].umem}: the device memory {@code VDUSE_IOTLB_REG_UMEM} pinned as the
     * bounce pages of an address space, until {@code DEREG_UMEM} or the release of the device
     * file. A reset leaves it; so does {@code vdpa dev del}.
     *
     * @param uaddr where the memory is in the device's process
     * @param pages that memory
     */
    private record Umem(long uaddr, MemorySegment pages) {}

    private final Umem[] umem;
    private final PinnedMemory pins;
    /** Linux 6.12 keeps a device's IOVA domain from one {@code vdpa dev add} to the next; 7.3 makes a new one. */
    private final boolean domainOutlivesDetach;
    /** The IOVA domain of address space 0 while attached (the others mirror it); null otherwise. */
    private IovaDomain domain;

    SimulatedDevice(VduseDevConfig config, long apiVersion, long vduseFeatures, Duration messageTimeout) {
        this(config, apiVersion, vduseFeatures, messageTimeout, new PinnedMemory(), true);
    }

    SimulatedDevice(VduseDevConfig config, long apiVersion, long vduseFeatures, Duration messageTimeout,
            PinnedMemory pins, boolean domainOutlivesDetach) {
        this.name = config.name();
        this.config = config;
        this.apiVersion = apiVersion;
        this.vduseFeatures = vduseFeatures;
        this.groupCount = apiVersion < Vduse.API_VERSION_1 ? 1 : config.ngroups();
        this.addressSpaceCount = apiVersion < Vduse.API_VERSION_1 ? 1 : config.nas();
        this.groupAsid = new int[groupCount];
        this.messageTimeout = messageTimeout;
        this.messages = new MessageQueue(apiVersion);
        this.configSpace = config.config();
        this.queues = new SimulatedQueue[config.vqNum()];
        for (int i = 0; i < queues.length; i++) {
            queues[i] = new SimulatedQueue(i);
        }
        this.umem = new Umem[addressSpaceCount];
        this.pins = pins;
        this.domainOutlivesDetach = domainOutlivesDetach;
    }

    // ---- the device file's side ---------------------------------------------------------------

    synchronized void open() throws ErrnoException {
        if (open) {
            throw new ErrnoException("open /dev/vduse/" + name, Errno.EBUSY);
        }
        open = true;
    }

    void closed() {
        synchronized (this) {
            open = false;
            // vduse_dev_release: the kernel deregisters every address space's user bounce memory,
            // copying what is in use back into its own pages, whatever the device did.
            for (int asid = 0; asid < umem.length; asid++) {
                if (umem[asid] != null) {
                    dropUmem(asid);
                }
            }
        }
        // What the device read but did not answer is read again by the next process.
        messages.requeueReceived();
    }

    synchronized boolean isOpen() {
        return open;
    }

    synchronized long negotiatedFeatures() {
        return driverFeatures;
    }

    synchronized void setConfig(int offset, byte[] data) throws ErrnoException {
        if (data.length == 0 || offset < 0 || (long) offset + data.length > configSpace.length) {
            throw new ErrnoException("VDUSE_DEV_SET_CONFIG outside the config space of %d bytes"
                    .formatted(configSpace.length), Errno.EINVAL);
        }
        System.arraycopy(data, 0, configSpace, offset, data.length);
    }

    void injectConfigInterrupt() throws ErrnoException {
        requireDriverOk("VDUSE_DEV_INJECT_CONFIG_IRQ");
        interrupts.config();
    }

    /**
     * Linux refuses to inject interrupts into a driver that is not running, or into a suspended
     * device: EINVAL.
     */
    private synchronized void requireDriverOk(String operation) throws ErrnoException {
        if ((status & io.vduse.api.virtio.VirtioStatus.DRIVER_OK) == 0) {
            throw new ErrnoException(operation + " before the driver set DRIVER_OK", Errno.EINVAL);
        }
        if (suspended) {
            throw new ErrnoException(operation + " on a suspended device", Errno.EINVAL);
        }
    }

    synchronized boolean hasVduseFeature(int bit) {
        return (vduseFeatures & (1L << bit)) != 0;
    }

    SimulatedQueue queue(int index, String operation) throws ErrnoException {
        if (index < 0 || index >= queues.length) {
            throw new ErrnoException("%s: queue %d of %d".formatted(operation, index, queues.length), Errno.EINVAL);
        }
        return queues[index];
    }

    synchronized void setKickFd(int index, int fd) throws ErrnoException {
        SimulatedQueue queue = queue(index, "VDUSE_VQ_SETUP_KICKFD");
        int previous = queue.kickFd;
        // The kernel takes its own reference to the eventfd: the device may close its copy.
        queue.kickFd = fd == Vduse.EVENTFD_DEASSIGN ? -1 : Syscalls.dup(fd);
        if (previous >= 0) {
            Syscalls.close(previous);
        }
    }

    void injectQueueInterrupt(int index) throws ErrnoException {
        queue(index, "VDUSE_VQ_INJECT_IRQ");
        requireDriverOk("VDUSE_VQ_INJECT_IRQ");
        interrupts.queue(index);
    }

    IotlbLookup iotlb() {
        return iotlb;
    }

    /**
     * The bounce region of address space {@code asid}, {@code [0, bounceSize - 1]}, if it is in
     * the IOTLB now (from the driver's first streaming DMA mapping to the next reset): what
     * {@code VDUSE_IOTLB_GET_INFO} marks {@code VDUSE_IOVA_CAP_UMEM}. The address spaces above 0
     * mirror 0's domain and have no bounce region of their own here.
     *
     * @return the bounce size, or 0 if there is no bounce region
     */
    synchronized long bounceRegion(int asid) {
        return asid == 0 && domain != null && domain.bounceMapped() ? domain.bounceSize() : 0;
    }

    /**
     * {@code VDUSE_IOTLB_REG_UMEM} ({@code vduse_dev_reg_umem}), its argument checked already:
     * {@code EINVAL} without a bounce region (before {@code vdpa dev add}, or before the driver's
     * first streaming mapping, or after a reset until the next), for a size other than the
     * bounce size, an IOVA other than 0 or an address off a page; {@code EEXIST} when memory is
     * registered already; {@code ENOMEM} past {@code RLIMIT_MEMLOCK}. The pages the driver has
     * mapped at that moment are copied into the memory, which from then on holds the bounce
     * region. (The kernel pins the pages and answers {@code EFAULT} for memory it cannot pin
     * writable; this model takes the address as given.)
     */
    @SuppressWarnings("restricted") // the device's memory, at the address it gave, as the kernel pins it
    synchronized void registerUmem(int asid, long uaddr, long iova, long size) throws ErrnoException {
        String op = "VDUSE_IOTLB_REG_UMEM";
        long bounce = bounceRegion(asid);
        if (bounce == 0 || size != bounce || iova != 0 || (uaddr & (Syscalls.pageSize() - 1)) != 0) {
            throw new ErrnoException("%s: uaddr 0x%x iova 0x%x size %d, bounce region %s".formatted(op, uaddr, iova,
                    size, bounce == 0 ? "absent" : bounce + " bytes"), Errno.EINVAL);
        }
        if (umem[asid] != null) {
            throw new ErrnoException(op + ": memory is registered already", Errno.EEXIST);
        }
        pins.pin(size, op);
        MemorySegment pages = MemorySegment.ofAddress(uaddr).reinterpret(size);
        domain.addUserBouncePages(pages);
        umem[asid] = new Umem(uaddr, pages);
    }

    /**
     * {@code VDUSE_IOTLB_DEREG_UMEM} ({@code vduse_dev_dereg_umem}): {@code ENOENT} when nothing is
     * registered, {@code EINVAL} for an IOVA or size other than the registration's; the pages the
     * driver has mapped are copied back into the kernel's own.
     */
    synchronized void deregisterUmem(int asid, long iova, long size) throws ErrnoException {
        Umem u = umem[asid];
        if (u == null) {
            throw new ErrnoException("VDUSE_IOTLB_DEREG_UMEM: nothing registered", Errno.ENOENT);
        }
        if (iova != 0 || size != u.pages().byteSize()) {
            throw new ErrnoException("VDUSE_IOTLB_DEREG_UMEM: iova 0x%x size %d, registered 0 and %d".formatted(iova,
                    size, u.pages().byteSize()), Errno.EINVAL);
        }
        dropUmem(asid);
    }

    /** Whether address space {@code asid} has user bounce memory registered. */
    synchronized boolean umemRegistered(int asid) {
        return umem[asid] != null;
    }

    private void dropUmem(int asid) {
        if (asid == 0 && domain != null) {
            domain.removeUserBouncePages();
        }
        pins.unpin(umem[asid].pages().byteSize());
        umem[asid] = null;
    }

    /** The address space virtqueue group {@code group} translates through. */
    synchronized int groupAsid(int group) {
        return groupAsid[group];
    }

    // ---- the driver's side (vdpa_config_ops) ----------------------------------------------------

    /**
     * {@code vdpa dev add}: the device is now in use; it cannot be destroyed until detached.
     * {@code bounceDomain} is the IOVA domain of address space 0. User bounce memory registered
     * before, and not deregistered since, holds that domain's bounce region again on Linux 6.12,
     * which keeps one domain for the device's life; Linux 7.3 makes the device a new domain at
     * every add and leaves the registration pinned but unused (REG_UMEM then answers EEXIST).
     */
    synchronized void attach(Interrupts driver, IotlbLookup lookup, IovaDomain bounceDomain) throws ErrnoException {
        if (attached) {
            throw new ErrnoException("vdpa dev add " + name, Errno.EEXIST);
        }
        attached = true;
        interrupts = driver;
        iotlb = lookup;
        domain = bounceDomain;
        if (domainOutlivesDetach && umem[0] != null && umem[0].pages().byteSize() == bounceDomain.bounceSize()) {
            bounceDomain.addUserBouncePages(umem[0].pages());
        }
    }

    /** {@code vdpa dev del}. */
    synchronized void detach() {
        attached = false;
        interrupts = NO_DRIVER;
        iotlb = null;
        domain = null;
    }

    synchronized boolean isAttached() {
        return attached;
    }

    /** The device's features, as {@code get_device_features} reports them. */
    long deviceFeatures() {
        return config.features();
    }

    /** The driver's choice of features ({@code set_driver_features}). */
    synchronized void setDriverFeatures(long features) {
        driverFeatures = features & config.features();
    }

    /**
     * {@code set_status}: tells the device and waits for its answer; the status changes only if
     * the device took it. Status 0 is {@code reset} ({@code vduse_vdpa_reset}), which resets the
     * kernel's side whatever the answer, also when the message failed (a broken device is reset
     * too, and stays broken).
     */
    void setStatus(int newStatus) throws ErrnoException {
        byte[] response;
        try {
            response = messages.call(id -> new VduseRequest.SetStatus(id, newStatus), messageTimeout);
        } catch (ErrnoException e) {
            if (newStatus == 0) {
                try {
                    resetKernelSide();
                } catch (ErrnoException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
        if (newStatus == 0) {
            resetKernelSide();
        }
        if (result(response) != Vduse.REQ_RESULT_OK) {
            throw new ErrnoException("VDUSE_SET_STATUS " + newStatus + " refused by the device", Errno.EIO);
        }
        synchronized (this) {
            status = newStatus;
        }
    }

    /** {@code vduse_dev_reset}: status, features, queues and kick eventfds; not {@code broken}. */
    private synchronized void resetKernelSide() throws ErrnoException {
        status = 0;
        suspended = false;
        driverFeatures = 0;
        for (SimulatedQueue q : queues) {
            q.reset();
            // As vduse_dev_reset does: the kick eventfds go too, so a device must set
            // them up again (with VDUSE_VQ_SETUP_KICKFD) before the driver kicks.
            if (q.kickFd >= 0) {
                Syscalls.close(q.kickFd);
                q.kickFd = -1;
            }
        }
    }

    synchronized int status() {
        return status;
    }

    /** {@code get_vq_state}: asks the device where queue {@code index} stands. */
    VqState vqState(int index) throws ErrnoException {
        queue(index, "VDUSE_GET_VQ_STATE");
        byte[] response = messages.call(id -> new VduseRequest.GetVqState(id, index), messageTimeout);
        if (result(response) != Vduse.REQ_RESULT_OK) {
            throw new ErrnoException("VDUSE_GET_VQ_STATE " + index + " refused by the device", Errno.EIO);
        }
        boolean packed;
        synchronized (this) {
            packed = VirtioFeatures.has(driverFeatures, VirtioFeatures.RING_PACKED);
        }
        return VduseResponse.readFrom(MemorySegment.ofArray(response), true, packed).state();
    }

    /** Tells the device that the mappings of {@code [start, last]} changed, and waits. */
    void updateIotlb(long start, long last) throws ErrnoException {
        updateIotlb(0, start, last);
    }

    /** The same for address space {@code asid} (which API v0 messages cannot name). */
    void updateIotlb(int asid, long start, long last) throws ErrnoException {
        byte[] response = messages.call(id -> new VduseRequest.UpdateIotlb(id, start, last, asid), messageTimeout);
        if (result(response) != Vduse.REQ_RESULT_OK) {
            throw new ErrnoException("VDUSE_UPDATE_IOTLB refused by the device", Errno.EIO);
        }
    }

    /**
     * Sends {@code GET_VQ_STATE} for any index, even one the kernel would never send, and returns
     * the device's result code: for testing how a device treats a bad index.
     */
    int sendGetVqState(int index) throws ErrnoException {
        return result(messages.call(id -> new VduseRequest.GetVqState(id, index), messageTimeout));
    }

    /** Sends a message of a type the kernel does not have, to test the device's answer to it. */
    int sendUnknownMessage(int type) throws ErrnoException {
        return result(messages.call(id -> new VduseRequest.Unknown(id, type), messageTimeout));
    }

    /** {@code set_vq_address} and {@code set_vq_num}. */
    synchronized void setQueue(int index, int num, long desc, long driver, long device) throws ErrnoException {
        SimulatedQueue q = queue(index, "set_vq_address");
        if (num <= 0 || num > q.maxSize) {
            throw new ErrnoException("set_vq_num %d above the device's max_size %d".formatted(num, q.maxSize),
                    Errno.EINVAL);
        }
        q.num = num;
        q.descAddr = desc;
        q.driverAddr = driver;
        q.deviceAddr = device;
    }

    /**
     * {@code set_vq_state}: where the ring starts, as {@code VDUSE_VQ_GET_INFO} reports it.
     * Like the kernel, only the low 15 bits of packed indexes and the low bit of the wrap
     * counters are kept.
     */
    synchronized void setQueueState(int index, VqState state) throws ErrnoException {
        SimulatedQueue q = queue(index, "set_vq_state");
        q.state = switch (state) {
            case VqState.Split s -> s;
            case VqState.Packed p -> new VqState.Packed(p.lastAvailCounter() & 1, p.lastAvailIdx() & 0x7fff,
                    p.lastUsedCounter() & 1, p.lastUsedIdx() & 0x7fff);
        };
    }

    /**
     * {@code set_vq_ready}. With {@code VDUSE_F_QUEUE_READY} the device is asked first, and a
     * FAILED answer breaks the device, as {@code vduse_vdpa_set_vq_ready} does.
     */
    void setQueueReady(int index, boolean ready) throws ErrnoException {
        SimulatedQueue q = queue(index, "set_vq_ready");
        if (hasVduseFeature(Vduse.F_QUEUE_READY)) {
            byte[] response = messages.call(id -> new VduseRequest.SetVqReady(id, index, ready), messageTimeout);
            if (result(response) != Vduse.REQ_RESULT_OK) {
                messages.breakDevice();
                throw new ErrnoException("VDUSE_SET_VQ_READY %d %b refused: the device is broken".formatted(index, ready),
                        Errno.EIO);
            }
        }
        synchronized (this) {
            q.ready = ready;
        }
    }

    /**
     * {@code suspend} (only for a device created with {@code VDUSE_F_SUSPEND}): asks the device,
     * and after an OK answer drops kicks and interrupts until the next reset.
     *
     * @throws ErrnoException {@code EOPNOTSUPP} without the feature (the vDPA device then has no
     *     suspend operation), {@code EIO} if the device refused
     */
    void suspend() throws ErrnoException {
        if (!hasVduseFeature(Vduse.F_SUSPEND)) {
            throw new ErrnoException("suspend of a device created without VDUSE_F_SUSPEND", Errno.EOPNOTSUPP);
        }
        byte[] response = messages.call(VduseRequest.Suspend::new, messageTimeout);
        if (result(response) != Vduse.REQ_RESULT_OK) {
            throw new ErrnoException("VDUSE_SUSPEND refused by the device", Errno.EIO);
        }
        synchronized (this) {
            suspended = true;
        }
    }

    synchronized boolean suspended() {
        return suspended;
    }

    /**
     * {@code set_group_asid}: asks the device to move virtqueue group {@code group} to address
     * space {@code asid}; only after an OK answer does the kernel translate that group through it.
     *
     * @throws ErrnoException {@code EINVAL} below API v1 or out of range, {@code EIO} if refused
     */
    void setGroupAsid(int group, int asid) throws ErrnoException {
        if (apiVersion < Vduse.API_VERSION_1 || group < 0 || group >= groupCount || asid < 0
                || asid >= addressSpaceCount) {
            throw new ErrnoException("set_group_asid %d %d".formatted(group, asid), Errno.EINVAL);
        }
        byte[] response = messages.call(id -> new VduseRequest.SetVqGroupAsid(id, group, asid), messageTimeout);
        if (result(response) != Vduse.REQ_RESULT_OK) {
            throw new ErrnoException("VDUSE_SET_VQ_GROUP_ASID refused by the device", Errno.EIO);
        }
        synchronized (this) {
            groupAsid[group] = asid;
        }
    }

    /** {@code kick_vq}: signals the queue's kick eventfd, if the device set one and is not suspended. */
    void kick(int index, MemorySegment scratch) throws ErrnoException {
        int fd;
        synchronized (this) {
            fd = queue(index, "kick_vq").kickFd;
            if (suspended || !queues[index].ready) {
                return; // as vduse_vq_kick does
            }
        }
        if (fd >= 0) {
            scratch.set(ValueLayout.JAVA_LONG, 0, 1L);
            Syscalls.write(fd, scratch, 8);
        }
    }

    /** The config space as the driver reads it. */
    synchronized byte[] readConfig() {
        return configSpace.clone();
    }

    /** Whether the device stopped answering messages in time. */
    boolean broken() {
        return messages.broken();
    }

    /** Releases what the kernel holds for the device (the kick eventfds). */
    synchronized void destroy() throws ErrnoException {
        for (SimulatedQueue q : queues) {
            if (q.kickFd >= 0) {
                Syscalls.close(q.kickFd);
                q.kickFd = -1;
            }
        }
    }

    private static int result(byte[] response) {
        return MemorySegment.ofArray(response).get(Layouts.U32, VduseResponse.RESULT);
    }
}
