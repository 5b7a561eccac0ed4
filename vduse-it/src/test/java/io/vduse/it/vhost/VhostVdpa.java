package io.vduse.it.vhost;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.vduse.api.Ioctl;
import io.vduse.core.ErrnoException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A vhost-vdpa file ({@code /dev/vhost-vdpa-N}) driven the way QEMU drives it: one method per
 * ioctl of {@code include/uapi/linux/vhost.h}, and the IOTLB messages ({@code struct vhost_msg_v2})
 * written to the file. Every failure is an {@link ErrnoException} named after the request.
 *
 * <p>Not thread-safe except where noted: one thread sets the device up, as in a VMM. The kernel
 * serialises the ioctls itself (the vhost device mutex), so a test thread may call
 * {@link #suspend()} while another thread only touches ring memory and eventfds.
 */
public final class VhostVdpa implements AutoCloseable {

    private final int fd;
    private final String path;

    private VhostVdpa(int fd, String path) {
        this.fd = fd;
        this.path = path;
    }

    /** Opens {@code path}; the kernel resets the vDPA device at open (vhost_vdpa_open). */
    public static VhostVdpa open(String path) throws ErrnoException {
        return new VhostVdpa(Libc.open(path, Libc.O_RDWR | Libc.O_CLOEXEC), path);
    }

    /** The file's path. */
    public String path() {
        return path;
    }

    private void call(Ioctl ioctl, MemorySegment argument) throws ErrnoException {
        Libc.ioctl(fd, ioctl.name(), ioctl.request(), argument);
    }

    private long getU64(Ioctl ioctl) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_LONG);
            call(ioctl, value);
            return value.get(JAVA_LONG, 0);
        }
    }

    private void setU64(Ioctl ioctl, long v) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_LONG);
            value.set(JAVA_LONG, 0, v);
            call(ioctl, value);
        }
    }

    private int getU32(Ioctl ioctl) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_INT);
            call(ioctl, value);
            return value.get(JAVA_INT, 0);
        }
    }

    private int vringState(Ioctl ioctl, int index, int num) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(VhostTypes.VRING_STATE);
            s.set(JAVA_INT, VhostTypes.STATE_INDEX, index);
            s.set(JAVA_INT, VhostTypes.STATE_NUM, num);
            call(ioctl, s);
            return s.get(JAVA_INT, VhostTypes.STATE_NUM);
        }
    }

    private void vringFile(Ioctl ioctl, int index, int eventFd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment f = arena.allocate(VhostTypes.VRING_FILE);
            f.set(JAVA_INT, VhostTypes.FILE_INDEX, index);
            f.set(JAVA_INT, VhostTypes.FILE_FD, eventFd);
            call(ioctl, f);
        }
    }

    /** {@code VHOST_SET_OWNER}: must come first; binds the device to this process's mm. */
    public void setOwner() throws ErrnoException {
        call(VhostIoctls.SET_OWNER, MemorySegment.NULL);
    }

    /** {@code VHOST_GET_FEATURES}: the virtio features the device offers. */
    public long features() throws ErrnoException {
        return getU64(VhostIoctls.GET_FEATURES);
    }

    /** {@code VHOST_SET_FEATURES}: the driver's features; refused (EBUSY) after FEATURES_OK. */
    public void setFeatures(long features) throws ErrnoException {
        setU64(VhostIoctls.SET_FEATURES, features);
    }

    /** {@code VHOST_GET_BACKEND_FEATURES}: bits {@code 1 << VhostTypes.BACKEND_F_*}. */
    public long backendFeatures() throws ErrnoException {
        return getU64(VhostIoctls.GET_BACKEND_FEATURES);
    }

    /** {@code VHOST_SET_BACKEND_FEATURES}; EOPNOTSUPP for a bit the device cannot do. */
    public void setBackendFeatures(long features) throws ErrnoException {
        setU64(VhostIoctls.SET_BACKEND_FEATURES, features);
    }

    /** {@code VHOST_VDPA_GET_DEVICE_ID}: the virtio device id (2 for block). */
    public int deviceId() throws ErrnoException {
        return getU32(VhostIoctls.VDPA_GET_DEVICE_ID);
    }

    /** {@code VHOST_VDPA_GET_STATUS}: the virtio status byte the device holds. */
    public int status() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_BYTE);
            call(VhostIoctls.VDPA_GET_STATUS, value);
            return Byte.toUnsignedInt(value.get(JAVA_BYTE, 0));
        }
    }

    /**
     * {@code VHOST_VDPA_SET_STATUS}; 0 resets. The kernel refuses (EINVAL) to clear bits other than
     * by a reset. For VDUSE the call returns after the device answered SET_STATUS.
     */
    public void setStatus(int status) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_BYTE);
            value.set(JAVA_BYTE, 0, (byte) status);
            call(VhostIoctls.VDPA_SET_STATUS, value);
        }
    }

    /** {@code VHOST_VDPA_GET_CONFIG} of {@code length} bytes at {@code offset} of the config space. */
    public byte[] config(int offset, int length) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(VhostTypes.CONFIG_BUF + length, 8);
            c.set(JAVA_INT, VhostTypes.CONFIG_OFF, offset);
            c.set(JAVA_INT, VhostTypes.CONFIG_LEN, length);
            call(VhostIoctls.VDPA_GET_CONFIG, c);
            return c.asSlice(VhostTypes.CONFIG_BUF, length).toArray(JAVA_BYTE);
        }
    }

    /** {@code VHOST_VDPA_GET_VQS_COUNT}. */
    public int queueCount() throws ErrnoException {
        return getU32(VhostIoctls.VDPA_GET_VQS_COUNT);
    }

    /** {@code VHOST_VDPA_GET_VRING_NUM}: the largest ring the device takes. */
    public int maxRingSize() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_SHORT);
            call(VhostIoctls.VDPA_GET_VRING_NUM, value);
            return Short.toUnsignedInt(value.get(JAVA_SHORT, 0));
        }
    }

    /** {@code VHOST_VDPA_GET_IOVA_RANGE}: {first, last}. */
    public long[] iovaRange() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = arena.allocate(VhostTypes.IOVA_RANGE);
            call(VhostIoctls.VDPA_GET_IOVA_RANGE, r);
            return new long[] {r.get(JAVA_LONG, 0), r.get(JAVA_LONG, 8)};
        }
    }

    /** {@code VHOST_VDPA_GET_GROUP_NUM}: virtqueue groups. */
    public int groupCount() throws ErrnoException {
        return getU32(VhostIoctls.VDPA_GET_GROUP_NUM);
    }

    /** {@code VHOST_VDPA_GET_AS_NUM}: address spaces. */
    public int addressSpaceCount() throws ErrnoException {
        return getU32(VhostIoctls.VDPA_GET_AS_NUM);
    }

    /** {@code VHOST_VDPA_GET_VRING_GROUP}: the group of queue {@code queue}. */
    public int queueGroup(int queue) throws ErrnoException {
        return vringState(VhostIoctls.VDPA_GET_VRING_GROUP, queue, 0);
    }

    /**
     * {@code VHOST_VDPA_SET_GROUP_ASID}: group {@code group} translates through {@code asid}. The
     * kernel refuses it (EBUSY) while DRIVER_OK is set (drivers/vhost/vdpa.c); VDUSE sends the
     * device {@code VDUSE_SET_VQ_GROUP_ASID} and waits for the answer.
     */
    public void setGroupAsid(int group, int asid) throws ErrnoException {
        vringState(VhostIoctls.VDPA_SET_GROUP_ASID, group, asid);
    }

    /** {@code VHOST_SET_VRING_NUM}: ring size, a power of two up to {@link #maxRingSize()}. */
    public void setRingSize(int queue, int size) throws ErrnoException {
        vringState(VhostIoctls.SET_VRING_NUM, queue, size);
    }

    /** {@code VHOST_SET_VRING_ADDR}: the ring's three areas, as IOVAs. */
    public void setRingAddresses(int queue, long desc, long avail, long used) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(VhostTypes.VRING_ADDR);
            a.set(JAVA_INT, VhostTypes.ADDR_INDEX, queue);
            a.set(JAVA_INT, VhostTypes.ADDR_FLAGS, 0);
            a.set(JAVA_LONG, VhostTypes.ADDR_DESC, desc);
            a.set(JAVA_LONG, VhostTypes.ADDR_USED, used);
            a.set(JAVA_LONG, VhostTypes.ADDR_AVAIL, avail);
            a.set(JAVA_LONG, VhostTypes.ADDR_LOG, 0);
            call(VhostIoctls.SET_VRING_ADDR, a);
        }
    }

    /**
     * {@code VHOST_SET_VRING_BASE}: the avail index the device takes next. Refused (EINVAL) while
     * DRIVER_OK is set unless the device is suspended (drivers/vhost/vdpa.c).
     */
    public void setRingBase(int queue, int base) throws ErrnoException {
        vringState(VhostIoctls.SET_VRING_BASE, queue, base);
    }

    /** {@code VHOST_GET_VRING_BASE}: the device's next avail index (VDUSE asks the device: GET_VQ_STATE). */
    public int ringBase(int queue) throws ErrnoException {
        return vringState(VhostIoctls.GET_VRING_BASE, queue, 0);
    }

    /** {@code VHOST_SET_VRING_KICK}: the eventfd the client writes to notify the device. */
    public void setKick(int queue, int eventFd) throws ErrnoException {
        vringFile(VhostIoctls.SET_VRING_KICK, queue, eventFd);
    }

    /** {@code VHOST_SET_VRING_CALL}: the eventfd the device's interrupts signal. */
    public void setCall(int queue, int eventFd) throws ErrnoException {
        vringFile(VhostIoctls.SET_VRING_CALL, queue, eventFd);
    }

    /**
     * {@code VHOST_VDPA_SET_VRING_ENABLE}. With {@code VDUSE_F_QUEUE_READY} the kernel sends the
     * device {@code VDUSE_SET_VQ_READY} and waits for the answer; the ioctl returns 0 either way
     * (a refusal breaks the VDUSE device instead).
     */
    public void setRingEnabled(int queue, boolean enabled) throws ErrnoException {
        vringState(VhostIoctls.VDPA_SET_VRING_ENABLE, queue, enabled ? 1 : 0);
    }

    /** {@code VHOST_VDPA_SUSPEND}: after it returns the device processes no more descriptors. */
    public void suspend() throws ErrnoException {
        call(VhostIoctls.VDPA_SUSPEND, MemorySegment.NULL);
    }

    /**
     * Writes one {@code struct vhost_msg_v2} of type {@code VHOST_IOTLB_MSG_V2}. The kernel turns
     * any failure of the message into EFAULT (vhost_chr_write_iter), so the errno says little; the
     * kernel log may say more.
     */
    public void iotlb(int asid, byte type, long iova, long size, long uaddr, byte perm) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(VhostTypes.MSG_V2);
            m.set(JAVA_INT, VhostTypes.MSG_TYPE, VhostTypes.IOTLB_MSG_V2);
            m.set(JAVA_INT, VhostTypes.MSG_ASID, asid);
            long b = VhostTypes.MSG_IOTLB;
            m.set(JAVA_LONG, b + VhostTypes.IOTLB_IOVA, iova);
            m.set(JAVA_LONG, b + VhostTypes.IOTLB_SIZE, size);
            m.set(JAVA_LONG, b + VhostTypes.IOTLB_UADDR, uaddr);
            m.set(JAVA_BYTE, b + VhostTypes.IOTLB_PERM, perm);
            m.set(JAVA_BYTE, b + VhostTypes.IOTLB_TYPE, type);
            String what = "write vhost_msg_v2 " + iotlbName(type) + " asid " + asid;
            long n = Libc.write(fd, m, m.byteSize(), what);
            if (n != m.byteSize()) {
                throw new IllegalStateException(what + ": the kernel took " + n + " of " + m.byteSize() + " bytes");
            }
        }
    }

    /**
     * {@code VHOST_IOTLB_UPDATE}: {@code [iova, iova + memory.byteSize())} to the client's memory.
     * Outside a batch the kernel asks the device while it holds the caller's mmap lock: with the
     * device in the same process, map inside {@link #batchBegin}/{@link #batchEnd}.
     */
    public void map(int asid, long iova, MemorySegment memory) throws ErrnoException {
        iotlb(asid, VhostTypes.IOTLB_UPDATE, iova, memory.byteSize(), memory.address(), VhostTypes.ACCESS_RW);
    }

    /** {@code VHOST_IOTLB_INVALIDATE} of {@code [iova, iova + size)}. */
    public void unmap(int asid, long iova, long size) throws ErrnoException {
        iotlb(asid, VhostTypes.IOTLB_INVALIDATE, iova, size, 0, (byte) 0);
    }

    /** {@code VHOST_IOTLB_BATCH_BEGIN}: the device sees the batch's updates at once, at its end. */
    public void batchBegin(int asid) throws ErrnoException {
        iotlb(asid, VhostTypes.IOTLB_BATCH_BEGIN, 0, 0, 0, (byte) 0);
    }

    /** {@code VHOST_IOTLB_BATCH_END}. */
    public void batchEnd(int asid) throws ErrnoException {
        iotlb(asid, VhostTypes.IOTLB_BATCH_END, 0, 0, 0, (byte) 0);
    }

    private static String iotlbName(byte type) {
        return switch (type) {
            case VhostTypes.IOTLB_UPDATE -> "IOTLB_UPDATE";
            case VhostTypes.IOTLB_INVALIDATE -> "IOTLB_INVALIDATE";
            case VhostTypes.IOTLB_BATCH_BEGIN -> "IOTLB_BATCH_BEGIN";
            case VhostTypes.IOTLB_BATCH_END -> "IOTLB_BATCH_END";
            default -> "IOTLB type " + type;
        };
    }

    /** Closes the file; the kernel resets the device and drops every mapping. */
    @Override
    public void close() throws ErrnoException {
        Libc.close(fd);
    }
}
