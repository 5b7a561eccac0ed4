package io.vduse.core.sim;

import io.vduse.api.Ioctl;
import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseConfigData;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseIotlbEntry;
import io.vduse.api.VduseIotlbEntryV2;
import io.vduse.api.VduseIovaInfo;
import io.vduse.api.VduseIovaUmem;
import io.vduse.api.VduseVqConfig;
import io.vduse.api.VduseVqEventfd;
import io.vduse.api.VduseVqInfo;
import io.vduse.core.DeviceBrokenException;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.internal.linux.Syscalls;
import java.lang.foreign.MemorySegment;

/**
 * {@code /dev/vduse/$NAME} of the simulated kernel: answers the device ioctls with the kernel's
 * checks and byte layouts, and carries the control messages.
 */
final class SimulatedDeviceFile implements VduseFile {

    private final SimulatedDevice device;
    private boolean closed;

    SimulatedDeviceFile(SimulatedDevice device) {
        this.device = device;
    }

    @Override
    public int ioctl(Ioctl request, MemorySegment argument) throws ErrnoException {
        checkOpen();
        if (device.broken()) {
            // vduse_dev_ioctl refuses every ioctl of a broken device before looking at it.
            throw new ErrnoException(request.name() + " on a broken VDUSE device", Errno.EPERM);
        }
        long number = request.request();
        if (number == VduseIoctls.DEV_GET_FEATURES.request()) {
            argument.set(Layouts.U64, 0, device.negotiatedFeatures());
            return 0;
        }
        if (number == VduseIoctls.DEV_SET_CONFIG.request()) {
            VduseConfigData data = readConfigData(argument);
            device.setConfig(data.offset(), data.data());
            return 0;
        }
        if (number == VduseIoctls.DEV_INJECT_CONFIG_IRQ.request()) {
            device.injectConfigInterrupt();
            return 0;
        }
        if (number == VduseIoctls.VQ_SETUP.request()) {
            return setupQueue(argument);
        }
        if (number == VduseIoctls.VQ_GET_INFO.request()) {
            return queueInfo(argument);
        }
        if (number == VduseIoctls.VQ_SETUP_KICKFD.request()) {
            VduseVqEventfd eventfd = VduseVqEventfd.readFrom(argument);
            device.setKickFd(eventfd.index(), eventfd.fd());
            return 0;
        }
        if (number == VduseIoctls.VQ_INJECT_IRQ.request()) {
            device.injectQueueInterrupt(argument.get(Layouts.U32, 0));
            return 0;
        }
        if (number == VduseIoctls.IOTLB_GET_FD.request()) {
            return iotlbFd(argument, VduseIotlbEntry.readFrom(argument), 0);
        }
        if (number == VduseIoctls.IOTLB_GET_FD2.request()) {
            if (device.apiVersion < Vduse.API_VERSION_1) {
                // -ENOIOCTLCMD in vduse_dev_ioctl, which reaches userspace as ENOTTY.
                throw new ErrnoException("VDUSE_IOTLB_GET_FD2 below API v1", Errno.ENOTTY);
            }
            VduseIotlbEntryV2 query = VduseIotlbEntryV2.readFrom(argument);
            if (!argument.asSlice(VduseIotlbEntryV2.RESERVED, 44).elements(Layouts.U8).allMatch(b -> b.get(Layouts.U8, 0) == 0)) {
                throw new ErrnoException("VDUSE_IOTLB_GET_FD2 with reserved words set", Errno.EINVAL);
            }
            return iotlbFd(argument, query.entry(), query.asid());
        }
        if (number == VduseIoctls.IOTLB_GET_INFO.request()) {
            return iovaInfo(argument);
        }
        if (number == VduseIoctls.IOTLB_REG_UMEM.request()) {
            VduseIovaUmem umem = umemArgument(argument, "VDUSE_IOTLB_REG_UMEM");
            device.registerUmem(umem.asid(), umem.uaddr(), umem.iova(), umem.size());
            return 0;
        }
        if (number == VduseIoctls.IOTLB_DEREG_UMEM.request()) {
            VduseIovaUmem umem = umemArgument(argument, "VDUSE_IOTLB_DEREG_UMEM");
            device.deregisterUmem(umem.asid(), umem.iova(), umem.size());
            return 0;
        }
        // Linux answers an ioctl it does not know on a VDUSE device with EINVAL, not ENOTTY.
        throw new ErrnoException(request.name() + " on the simulated kernel", Errno.EINVAL);
    }

    private static VduseConfigData readConfigData(MemorySegment argument) throws ErrnoException {
        try {
            return VduseConfigData.readFrom(argument);
        } catch (IllegalArgumentException e) {
            throw new ErrnoException("VDUSE_DEV_SET_CONFIG: " + e.getMessage(), Errno.EINVAL);
        }
    }

    private int setupQueue(MemorySegment argument) throws ErrnoException {
        VduseVqConfig config = VduseVqConfig.readFrom(argument);
        SimulatedQueue queue = device.queue(config.index(), "VDUSE_VQ_SETUP");
        boolean reservedSet = argument.get(Layouts.U16, 6) != 0;
        for (long offset = 12; offset < VduseVqConfig.LAYOUT.byteSize(); offset += 2) {
            reservedSet |= argument.get(Layouts.U16, offset) != 0;
        }
        if (reservedSet || (device.apiVersion < Vduse.API_VERSION_1 && config.group() != 0)) {
            throw new ErrnoException("VDUSE_VQ_SETUP with reserved fields or a group before API v1", Errno.EINVAL);
        }
        if (device.apiVersion >= Vduse.API_VERSION_1) {
            if (Integer.compareUnsigned(config.group(), device.groupCount) >= 0) {
                throw new ErrnoException("VDUSE_VQ_SETUP: group %s of %d".formatted(
                        Integer.toUnsignedString(config.group()), device.groupCount), Errno.EINVAL);
            }
            // From API v1 on, Linux 7.3 refuses to change a queue's setup while the driver runs.
            if ((device.status() & io.vduse.api.virtio.VirtioStatus.DRIVER_OK) != 0) {
                throw new ErrnoException("VDUSE_VQ_SETUP after DRIVER_OK with API v1", Errno.EINVAL);
            }
        }
        synchronized (device) {
            queue.maxSize = config.maxSize();
            queue.group = config.group();
        }
        return 0;
    }

    private int queueInfo(MemorySegment argument) throws ErrnoException {
        int index = argument.get(Layouts.U32, VduseVqInfo.INDEX);
        SimulatedQueue q = device.queue(index, "VDUSE_VQ_GET_INFO");
        VduseVqInfo info;
        synchronized (device) {
            info = new VduseVqInfo(index, q.num, q.descAddr, q.driverAddr, q.deviceAddr, q.state, q.ready);
        }
        info.writeTo(argument);
        return 0;
    }

    private int iotlbFd(MemorySegment argument, VduseIotlbEntry query, int asid) throws ErrnoException {
        if (Long.compareUnsigned(query.start(), query.last()) > 0) {
            throw new ErrnoException("VDUSE_IOTLB_GET_FD with start above last", Errno.EINVAL);
        }
        if (Integer.compareUnsigned(asid, device.addressSpaceCount) >= 0) {
            throw new ErrnoException("VDUSE_IOTLB_GET_FD2: address space %s of %d".formatted(
                    Integer.toUnsignedString(asid), device.addressSpaceCount), Errno.EINVAL);
        }
        IotlbLookup iotlb = device.iotlb();
        IotlbLookup.Entry entry = iotlb == null ? null : iotlb.firstOverlapping(asid, query.start(), query.last());
        if (entry == null) {
            throw new ErrnoException("VDUSE_IOTLB_GET_FD: nothing mapped in [0x%x, 0x%x]"
                    .formatted(query.start(), query.last()), Errno.EINVAL);
        }
        new VduseIotlbEntry(entry.offset(), entry.start(), entry.last(), entry.perm()).writeTo(argument);
        // The kernel installs a new descriptor for the same file: the device closes it when done.
        return Syscalls.dup(entry.fd());
    }

    /**
     * {@code VDUSE_IOTLB_GET_INFO}: the first entry overlapping the range, marked
     * {@code VDUSE_IOVA_CAP_UMEM} if it is the whole bounce region while that is in the IOTLB.
     */
    private int iovaInfo(MemorySegment argument) throws ErrnoException {
        VduseIovaInfo query = VduseIovaInfo.readFrom(argument);
        if (Long.compareUnsigned(query.start(), query.last()) > 0 || !zero(argument, VduseIovaInfo.ASID + 4, 20)) {
            throw new ErrnoException("VDUSE_IOTLB_GET_INFO with start above last or reserved words set", Errno.EINVAL);
        }
        checkAsid(query.asid(), "VDUSE_IOTLB_GET_INFO");
        IotlbLookup iotlb = device.iotlb();
        IotlbLookup.Entry entry = iotlb == null ? null : iotlb.firstOverlapping(query.asid(), query.start(), query.last());
        if (entry == null) {
            throw new ErrnoException("VDUSE_IOTLB_GET_INFO: nothing mapped", Errno.EINVAL);
        }
        long bounce = device.bounceRegion(query.asid());
        long capability = bounce != 0 && entry.start() == 0 && entry.last() == bounce - 1 ? Vduse.IOVA_CAP_UMEM : 0;
        new VduseIovaInfo(entry.start(), entry.last(), capability, query.asid()).writeTo(argument);
        return 0;
    }

    /**
     * The argument of {@code REG_UMEM} and {@code DEREG_UMEM}, checked as the ioctl does before
     * anything else: reserved words zero, and an address space the device has (below API v1 the
     * {@code asid} word is reserved and must be zero too).
     */
    private VduseIovaUmem umemArgument(MemorySegment argument, String op) throws ErrnoException {
        VduseIovaUmem umem = VduseIovaUmem.readFrom(argument);
        if (!zero(argument, VduseIovaUmem.ASID + 4, 20)) {
            throw new ErrnoException(op + " with reserved words set", Errno.EINVAL);
        }
        checkAsid(umem.asid(), op);
        return umem;
    }

    /** EINVAL for an address space the device does not have, or any but 0 below API v1. */
    private void checkAsid(int asid, String op) throws ErrnoException {
        if ((device.apiVersion < Vduse.API_VERSION_1 && asid != 0)
                || Integer.compareUnsigned(asid, device.addressSpaceCount) >= 0) {
            throw new ErrnoException("%s: address space %s of %d".formatted(op, Integer.toUnsignedString(asid),
                    device.addressSpaceCount), Errno.EINVAL);
        }
    }

    private static boolean zero(MemorySegment argument, long offset, long length) {
        return argument.asSlice(offset, length).elements(Layouts.U8).allMatch(b -> b.get(Layouts.U8, 0) == 0);
    }

    @Override
    public long read(MemorySegment buffer, long length) throws ErrnoException {
        checkOpen();
        return device.messages.read(buffer, length);
    }

    @Override
    public long write(MemorySegment buffer, long length) throws ErrnoException {
        checkOpen();
        return device.messages.write(buffer, length);
    }

    @Override
    public boolean awaitReadable(int timeoutMillis) throws ErrnoException, DeviceBrokenException {
        checkOpen();
        boolean readable = device.messages.awaitReadable(timeoutMillis);
        // vduse_dev_poll reports POLLERR for as long as the device is broken, which is for good.
        if (device.broken()) {
            throw new DeviceBrokenException(toString(), "POLLERR");
        }
        return readable;
    }

    @Override
    public int fd() {
        return -1;
    }

    private synchronized void checkOpen() throws ErrnoException {
        if (closed) {
            throw new ErrnoException("simulated /dev/vduse/" + device.name, Errno.EBADF);
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        device.closed();
    }

    @Override
    public String toString() {
        return "simulated /dev/vduse/" + device.name;
    }
}
