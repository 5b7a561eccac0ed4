package io.vduse.net;

import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.ErrnoException;
import io.vduse.core.NonBlockingFile;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A TAP interface as a {@link NetBackend}: {@code /dev/net/tun} opened non-blocking with
 * {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR} and a 12-byte vnet header
 * ({@code TUNSETVNETHDRSZ}), so every frame carries its offload header both ways. What the
 * driver transmits is written to the TAP on the transmit queue's thread; a full TAP is waited
 * for at most {@link #WRITE_WAIT_MILLIS}, then the frame is dropped and counted. What the host
 * sends is read on the receive queue's thread, which waits on the TAP's descriptor beside its
 * kick while it holds buffers to receive into ({@link #receiveFd()}): one thread from the TAP to
 * the driver. A thread of the backend's own looks at the interface's administrative state every
 * {@link #LINK_POLL_MILLIS}, which the device's link follows ({@link #linkUp()}). The offloads
 * the TAP may hand us ({@code TUNSETOFFLOAD}) follow what the driver accepted, each time it
 * starts the device.
 *
 * <p>A TAP this backend creates is made persistent ({@code TUNSETPERSIST}) while it is open, and
 * marked as the tool's in the runtime directory ({@code DIR/vduse-net-taps/TAP}): {@link #close()}
 * removes it, but a process killed with it open leaves it in the kernel, up, with its addresses
 * and routes, as it leaves the VDUSE device. A backend opened with {@code takeOver} then attaches
 * to that TAP and removes it at its own close, as if it had made it; a persistent TAP that is not
 * marked (one an administrator made with {@code ip tuntap add}) is attached to and left as found.
 */
public final class TapBackend implements NetBackend {

    private static final System.Logger LOG = System.getLogger(TapBackend.class.getName());

    /** The longest the transmit queue waits for room in a full TAP before it drops the frame. */
    public static final int WRITE_WAIT_MILLIS = 5;
    /**
     * How often the link thread looks at the interface's administrative state: the tun driver
     * tells its file nothing when the host sets the interface down, so it is read from sysfs.
     */
    public static final int LINK_POLL_MILLIS = 100;
    private static final long LINK_POLL_NANOS = LINK_POLL_MILLIS * 1_000_000L;
    /** {@code IFF_UP} in an interface's {@code flags} ({@code <linux/if.h>}). */
    private static final int IFF_UP = 0x1;
    private static final int BUFFER = VirtioNet.HDR_SIZE + TxQueue.MAX_FRAME;
    /** Under the runtime directory: one empty file per TAP a vduse-net made and has not removed yet. */
    static final String MARKS = "vduse-net-taps";

    private final NonBlockingFile tap;
    private final String interfaceName;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment txBuffer = arena.allocate(BUFFER);
    private final MemorySegment rxBuffer = arena.allocate(BUFFER);
    private final VnetHeader rxHeader = new VnetHeader();
    private final AtomicLong full = new AtomicLong();
    private final AtomicLong shortReads = new AtomicLong();
    private final Thread linkWatcher;
    private final Path flagsFile;
    /** Whether {@link #close()} removes the interface: this backend made it, or took over one the tool made. */
    private final boolean owned;
    private final boolean created;
    private final Path mark;
    private volatile LinkListener linkListener;
    /** The administrative state last seen; written by the link thread (and before it starts). */
    private volatile boolean lastUp;
    private volatile boolean running = true;
    /** Set by the first {@link #close()} or {@link #detach()}. */
    private boolean ended;

    private TapBackend(NonBlockingFile tap, String interfaceName, boolean owned, boolean created, Path mark) {
        this.tap = tap;
        this.interfaceName = interfaceName;
        this.owned = owned;
        this.created = created;
        this.mark = mark;
        this.flagsFile = Path.of("/sys/class/net", interfaceName, "flags");
        this.lastUp = readLinkUp(false);
        this.linkWatcher = Thread.ofPlatform().name("tap-" + interfaceName + "-link").daemon(true)
                .unstarted(this::watchLinkLoop);
    }

    /**
     * Creates (or attaches to a persistent) TAP interface {@code name}; an empty name lets the
     * kernel choose ({@code tap%d}). A TAP this makes is persistent until the backend closes,
     * which removes it; a process killed before leaves it, marked under {@code runtimeDirectory}
     * (see the class comment).
     *
     * @param takeOver whether a persistent TAP the tool made and left (marked) becomes this
     *     backend's, removed at its close; without, it is attached to and left as found
     * @throws ErrnoException what {@code /dev/net/tun} answered (EPERM without CAP_NET_ADMIN,
     *     EBUSY if another process holds the interface, EINVAL for a name of 16 bytes or more)
     */
    public static TapBackend open(String name, Path runtimeDirectory, boolean takeOver) throws ErrnoException {
        byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
        if (nameBytes.length >= Tun.IFNAMSIZ) {
            throw new IllegalArgumentException("interface name '" + name + "' is longer than " + (Tun.IFNAMSIZ - 1)
                    + " bytes");
        }
        NonBlockingFile tap = NonBlockingFile.open(Path.of("/dev/net/tun"));
        Path persisted = null; // the mark of a TAP made persistent here, to undo if the open fails after
        String chosen = name;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment ifreq = call.allocate(Tun.IFREQ_SIZE);
            MemorySegment.copy(nameBytes, 0, ifreq, ValueLayout.JAVA_BYTE, 0, nameBytes.length);
            ifreq.set(ValueLayout.JAVA_SHORT, Tun.IFREQ_FLAGS, (short) (Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR));
            tap.ioctl(Tun.SETIFF, ifreq);
            chosen = ifreq.getString(0, StandardCharsets.US_ASCII);
            MemorySegment size = call.allocateFrom(ValueLayout.JAVA_INT, VirtioNet.HDR_SIZE);
            tap.ioctl(Tun.SETVNETHDRSZ, size);
            // Until a driver says what it takes: nothing the device would have to finish itself.
            tap.ioctl(Tun.SETOFFLOAD, 0);
            tap.ioctl(Tun.GETIFF, ifreq);
            boolean found = (ifreq.get(ValueLayout.JAVA_SHORT, Tun.IFREQ_FLAGS) & Tun.IFF_PERSIST) != 0;
            Path mark = runtimeDirectory.resolve(MARKS).resolve(chosen);
            boolean owned;
            if (found) {
                owned = takeOver && Files.exists(mark);
            } else {
                persisted = persist(tap, chosen, mark) ? mark : null;
                owned = true;
            }
            TapBackend backend = new TapBackend(tap, chosen, owned, !found, mark);
            backend.linkWatcher.start();
            return backend;
        } catch (ErrnoException | RuntimeException e) {
            if (persisted != null) {
                unpersist(tap, chosen, persisted);
            }
            tap.close();
            throw e;
        }
    }

    /**
     * Marks the TAP just made, then makes it persistent, so that it outlives a killed process;
     * whether it is. Without the mark a process taking over could not tell it from an
     * administrator's TAP: then it is left as it was, going away with its file.
     */
    private static boolean persist(NonBlockingFile tap, String name, Path mark) {
        try {
            Files.createDirectories(mark.getParent());
            Files.write(mark, new byte[0]);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "{0}: cannot mark the TAP in {1} ({2}): it goes away if this process is killed",
                    name, mark.getParent(), e.toString());
            return false;
        }
        try {
            tap.ioctl(Tun.SETPERSIST, 1);
            return true;
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "{0}: TUNSETPERSIST refused ({1}): the TAP goes away if this process is killed",
                    name, e.getMessage());
            deleteMark(name, mark);
            return false;
        }
    }

    /** Lets the TAP go with its last file again, and forgets its mark. */
    private static void unpersist(NonBlockingFile tap, String name, Path mark) {
        try {
            tap.ioctl(Tun.SETPERSIST, 0);
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "{0}: TUNSETPERSIST 0 refused ({1}): the TAP stays (ip tuntap del dev {0} mode tap)",
                    name, e.getMessage());
        }
        deleteMark(name, mark);
    }

    private static void deleteMark(String name, Path mark) {
        try {
            Files.deleteIfExists(mark);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "{0}: cannot delete its mark {1}: {2}", name, mark, e.toString());
        }
    }

    /** The interface's name, as the kernel gave it. */
    public String interfaceName() {
        return interfaceName;
    }

    /**
     * Whether this backend made the interface (it did not exist); one it attached to, left by a
     * killed process or made by an administrator, is not.
     */
    public boolean created() {
        return created;
    }

    /** Whether {@link #close()} removes the interface: it made it, or took over one the tool left. */
    public boolean owned() {
        return owned;
    }

    /** Frames dropped because the TAP stayed full for {@link #WRITE_WAIT_MILLIS}. */
    public long droppedFull() {
        return full.get();
    }

    /** Reads shorter than a vnet header and an Ethernet header, dropped. */
    public long shortReads() {
        return shortReads.get();
    }

    /** Nothing to do: the receive queue reads the TAP itself ({@link #receive}). */
    @Override
    public void attach(FrameSink sink) {}

    @Override
    public int receiveFd() {
        return tap.fd();
    }

    /** On the receive queue's thread only: {@link #rxBuffer} and {@link #rxHeader} are its own. */
    @Override
    public boolean receive(FrameSink sink) throws ErrnoException {
        long n = tap.read(rxBuffer, BUFFER);
        if (n < 0) {
            return false;
        }
        if (n < VirtioNet.HDR_SIZE + TxQueue.ETH_HLEN) {
            shortReads.incrementAndGet();
            return true;
        }
        rxHeader.set(rxBuffer.get(ValueLayout.JAVA_BYTE, 0), rxBuffer.get(ValueLayout.JAVA_BYTE, 1),
                rxBuffer.get(LE16, 2), rxBuffer.get(LE16, 4), rxBuffer.get(LE16, 6), rxBuffer.get(LE16, 8));
        sink.accept(rxHeader, rxBuffer.asSlice(VirtioNet.HDR_SIZE, n - VirtioNet.HDR_SIZE));
        return true;
    }

    /**
     * Whether the interface is administratively up on the host ({@code IFF_UP}), as the link
     * thread last saw it (at most {@link #LINK_POLL_MILLIS} ago).
     */
    @Override
    public boolean linkUp() {
        return lastUp;
    }

    @Override
    public void watchLink(LinkListener listener) {
        linkListener = listener;
    }

    /**
     * The interface's {@code IFF_UP} from sysfs; {@code otherwise} where that cannot be read (the
     * interface moved to another network namespace than the one sysfs shows, say).
     */
    private boolean readLinkUp(boolean otherwise) {
        try {
            return (Integer.decode(Files.readString(flagsFile).strip()) & IFF_UP) != 0;
        } catch (IOException | NumberFormatException e) {
            return otherwise;
        }
    }

    /** On the link thread: tells the listener when the administrative state changed. */
    private void lookAtLink() {
        boolean up = readLinkUp(lastUp);
        if (up != lastUp) {
            lastUp = up;
            LinkListener listener = linkListener;
            if (listener != null) {
                listener.linkChanged(up);
            }
        }
    }

    /** Lets the TAP hand us the offloads the receiving driver accepted, and no others. */
    @Override
    public void driverStarted(long negotiatedFeatures) {
        int offloads = 0;
        if (VirtioFeatures.has(negotiatedFeatures, VirtioNet.F_GUEST_CSUM)) {
            offloads |= Tun.F_CSUM;
            if (VirtioFeatures.has(negotiatedFeatures, VirtioNet.F_GUEST_TSO4)) {
                offloads |= Tun.F_TSO4;
            }
            if (VirtioFeatures.has(negotiatedFeatures, VirtioNet.F_GUEST_TSO6)) {
                offloads |= Tun.F_TSO6;
            }
            if ((offloads & (Tun.F_TSO4 | Tun.F_TSO6)) != 0 && VirtioFeatures.has(negotiatedFeatures, VirtioNet.F_GUEST_ECN)) {
                offloads |= Tun.F_TSO_ECN;
            }
        }
        try {
            tap.ioctl(Tun.SETOFFLOAD, offloads);
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "{0}: TUNSETOFFLOAD {1} refused ({2}); frames that need an offload the driver "
                    + "did not accept will be dropped and counted", interfaceName, offloads, e.getMessage());
        }
    }

    /** Called on the transmit queue's thread only: {@link #txBuffer} is its own. */
    @Override
    public boolean transmit(VnetHeader header, MemorySegment frame) {
        long length = VirtioNet.HDR_SIZE + frame.byteSize();
        MemorySegment out = txBuffer;
        out.set(ValueLayout.JAVA_BYTE, 0, (byte) header.flags());
        out.set(ValueLayout.JAVA_BYTE, 1, (byte) header.gsoType());
        out.set(LE16, 2, (short) header.hdrLen());
        out.set(LE16, 4, (short) header.gsoSize());
        out.set(LE16, 6, (short) header.csumStart());
        out.set(LE16, 8, (short) header.csumOffset());
        out.set(LE16, 10, (short) 0);
        MemorySegment.copy(frame, 0, out, VirtioNet.HDR_SIZE, frame.byteSize());
        try {
            if (tap.write(out, length) >= 0 || tap.awaitWritable(WRITE_WAIT_MILLIS) && tap.write(out, length) >= 0) {
                return true;
            }
        } catch (ErrnoException e) {
            // EIO while the interface is down, EINVAL for a frame the TAP refuses: dropped, counted.
            LOG.log(Level.DEBUG, "{0}: write refused: {1}", interfaceName, e.getMessage());
        }
        full.incrementAndGet();
        return false;
    }

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private void watchLinkLoop() {
        while (running) {
            lookAtLink();
            LockSupport.parkNanos(LINK_POLL_NANOS); // close() unparks it
        }
    }

    /**
     * Stops the link thread and closes the TAP (the device reading it must have stopped first); one
     * it {@linkplain #owned() owns} goes away, any other stays as it was found.
     */
    @Override
    public void close() {
        end(owned);
    }

    /**
     * Stops the link thread and closes the TAP but leaves it in the kernel, persistent and
     * marked, with its addresses and state, as a killed process does: for a process that takes
     * the device over ({@code takeOver}), or one whose start failed with a TAP it found.
     * {@link #close()} afterwards does nothing.
     */
    public void detach() {
        end(false);
    }

    private synchronized void end(boolean remove) {
        if (ended) {
            return;
        }
        ended = true;
        running = false;
        linkListener = null;
        LockSupport.unpark(linkWatcher);
        try {
            linkWatcher.join(LINK_POLL_MILLIS * 20L);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (remove) {
            unpersist(tap, interfaceName, mark);
        }
        try {
            tap.close();
        } catch (ErrnoException e) {
            LOG.log(Level.WARNING, "{0}: closing the TAP: {1}", interfaceName, e.getMessage());
        }
        arena.close();
    }

    @Override
    public String toString() {
        return "TapBackend[" + interfaceName + "]";
    }
}
