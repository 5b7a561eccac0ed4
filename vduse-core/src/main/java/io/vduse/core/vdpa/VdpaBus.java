package io.vduse.core.vdpa;

import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.internal.linux.GenericNetlink;
import io.vduse.core.internal.linux.GenericNetlink.Ack;
import io.vduse.core.internal.linux.GenericNetlink.Attribute;
import io.vduse.core.internal.linux.GenericNetlink.Data;
import io.vduse.core.internal.linux.GenericNetlink.Reply;
import io.vduse.core.internal.linux.NetlinkSocket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Adds a started VDUSE device to the vDPA bus and removes it again, through the kernel's
 * {@code vdpa} generic netlink family ({@code VDPA_CMD_DEV_NEW} and {@code VDPA_CMD_DEV_DEL} of
 * {@code include/uapi/linux/vdpa.h}, what {@code vdpa dev add name NAME mgmtdev vduse} and
 * {@code vdpa dev del NAME} send), and binds it to the driver asked for through sysfs
 * ({@code /sys/bus/vdpa/devices/NAME/driver_override}).
 *
 * <p>A device can be added once {@link io.vduse.core.VduseDevice.Builder#start()} has returned:
 * its queues are set up then ({@code VDUSE_VQ_SETUP}); before that the kernel refuses the add with
 * {@code EINVAL}. Needs {@code CAP_NET_ADMIN} and the {@code vdpa} and {@code vduse} modules.
 */
public final class VdpaBus {

    /** {@code VDPA_GENL_NAME}. */
    static final String FAMILY = "vdpa";
    /** {@code VDPA_GENL_VERSION}. */
    static final int VERSION = 1;
    /** {@code VDPA_CMD_DEV_NEW}. */
    static final int CMD_DEV_NEW = 3;
    /** {@code VDPA_CMD_DEV_DEL}. */
    static final int CMD_DEV_DEL = 4;
    /** {@code VDPA_ATTR_MGMTDEV_DEV_NAME} (string). */
    static final int ATTR_MGMTDEV_DEV_NAME = 2;
    /** {@code VDPA_ATTR_DEV_NAME} (string). */
    static final int ATTR_DEV_NAME = 4;
    /** The management device of VDUSE devices. */
    static final String MGMTDEV = "vduse";

    /**
     * How long one netlink answer may take. An add under {@code virtio_vdpa} returns after the
     * virtio driver's probe, which reads the device (its partition table, for a disk) through the
     * device's own queues; 60 s is twice the kernel's VDUSE message timeout.
     */
    private static final long ANSWER_TIMEOUT_MILLIS = 60_000;
    /** How long a driver's node (the disk, the vhost-vdpa device) may take to show in sysfs. */
    private static final long NODE_WAIT_MILLIS = 5_000;

    private final Path sysBus;

    private VdpaBus(Path sysBus) {
        this.sysBus = sysBus;
    }

    /** The bus of this machine, {@code /sys/bus/vdpa}. */
    public static VdpaBus linux() {
        return new VdpaBus(Path.of("/sys/bus/vdpa"));
    }

    /** A bus whose sysfs directory is {@code sysBus}: for tests of the sysfs side. */
    static VdpaBus at(Path sysBus) {
        return new VdpaBus(sysBus);
    }

    /**
     * Adds VDUSE device {@code name} to the bus and binds it to {@code driver}; returns what the
     * driver made of it. If the device cannot be bound to that driver, it is removed again.
     *
     * @throws VdpaException naming what the kernel refused and, where known, what to do
     */
    public VdpaAttachment add(String name, VdpaDriver driver) throws VdpaException {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a vDPA device needs a name");
        }
        requireDriver(name, driver); // before the add: the device never reaches another driver in vain
        String what = "vdpa dev add name " + name + " mgmtdev " + MGMTDEV;
        request(what, CMD_DEV_NEW, List.of(Attribute.string(ATTR_MGMTDEV_DEV_NAME, MGMTDEV),
                Attribute.string(ATTR_DEV_NAME, name)), name);
        try {
            bind(name, driver);
            return new VdpaAttachment(name, driver, awaitNode(name, driver));
        } catch (VdpaException e) {
            try {
                remove(name);
            } catch (VdpaException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /**
     * Removes device {@code name} from the bus; its driver lets go of it first (a disk under
     * {@code virtio_vdpa} disappears, open or not).
     *
     * @throws VdpaException if the kernel refuses ({@code ENODEV}: it is not on the bus)
     */
    public void remove(String name) throws VdpaException {
        request("vdpa dev del " + name, CMD_DEV_DEL, List.of(Attribute.string(ATTR_DEV_NAME, name)), name);
    }

    /** Device {@code name} as it is on the bus now, if it is: for a process that takes a device over. */
    public Optional<VdpaAttachment> find(String name) {
        Path device = sysBus.resolve("devices").resolve(name);
        if (!Files.isDirectory(device)) {
            return Optional.empty();
        }
        VdpaDriver driver = boundDriver(device);
        if (driver == null) {
            return Optional.empty();
        }
        return Optional.of(new VdpaAttachment(name, driver, node(device, driver)));
    }

    /** Sends one vdpa request and checks its acknowledgement. */
    private void request(String what, int command, List<Attribute> attributes, String name) throws VdpaException {
        try (NetlinkSocket socket = new NetlinkSocket(ANSWER_TIMEOUT_MILLIS)) {
            int family = resolveFamily(socket);
            int seq = socket.nextSeq();
            Ack ack = ackOf(socket.transact(GenericNetlink.request(family, seq, command, VERSION, attributes), seq, what));
            if (ack.errno() != 0) {
                throw refused(what, command, ack, name);
            }
        } catch (ErrnoException e) {
            String hint = e.errno() == Errno.EAGAIN ? ": the kernel did not answer in "
                    + ANSWER_TIMEOUT_MILLIS / 1000 + " s" : "";
            throw new VdpaException(what + ": " + e.getMessage() + hint, e.errno(), e);
        }
    }

    /** The id of the {@code vdpa} family ({@code CTRL_CMD_GETFAMILY}). */
    private static int resolveFamily(NetlinkSocket socket) throws ErrnoException, VdpaException {
        int seq = socket.nextSeq();
        List<Reply> replies = socket.transact(GenericNetlink.getFamily(seq, FAMILY), seq, "CTRL_CMD_GETFAMILY vdpa");
        Ack ack = ackOf(replies);
        if (ack.errno() == Errno.ENOENT) {
            throw new VdpaException("the kernel has no '" + FAMILY + "' generic netlink family: the vdpa module is "
                    + "not loaded (modprobe vdpa, or modprobe vduse, which needs it)", ack.errno(), null);
        }
        if (ack.errno() != 0) {
            throw new VdpaException("CTRL_CMD_GETFAMILY vdpa: " + errnoText(ack), ack.errno(), null);
        }
        for (Reply reply : replies) {
            if (reply instanceof Data data && data.attributes().containsKey(GenericNetlink.CTRL_ATTR_FAMILY_ID)) {
                return data.attributes().get(GenericNetlink.CTRL_ATTR_FAMILY_ID).asU16();
            }
        }
        throw new VdpaException("CTRL_CMD_GETFAMILY vdpa: the kernel's answer has no family id", 0, null);
    }

    private static Ack ackOf(List<Reply> replies) {
        return (Ack) replies.getLast();
    }

    /** The refusal of a vdpa request, with what it means for a VDUSE device. */
    static VdpaException refused(String what, int command, Ack ack, String name) {
        String meaning = switch (ack.errno()) {
            case Errno.EPERM -> "adding and removing vDPA devices needs CAP_NET_ADMIN (run as root)";
            case Errno.ENODEV -> command == CMD_DEV_NEW
                    ? "no vDPA management device '" + MGMTDEV + "': the vduse module is not loaded (modprobe vduse)"
                    : "no vDPA device named " + name + " is on the bus";
            case Errno.EEXIST -> "a vDPA device named " + name + " is on the bus already (vdpa dev del " + name + ")";
            case Errno.EINVAL -> command == CMD_DEV_NEW
                    ? "no VDUSE device named " + name + " whose queues are set up (start it first)"
                    : "the kernel would not remove it";
            default -> null;
        };
        StringBuilder message = new StringBuilder(what).append(": ").append(errnoText(ack));
        if (meaning != null) {
            message.append(": ").append(meaning);
        }
        return new VdpaException(message.toString(), ack.errno(), null);
    }

    private static String errnoText(Ack ack) {
        String text = "%s (%d) %s".formatted(Errno.name(ack.errno()), ack.errno(), Errno.description(ack.errno()));
        return ack.message() == null ? text : text + " (the kernel: \"" + ack.message() + "\")";
    }

    /**
     * Binds the device to {@code driver}: the kernel bound it to whichever vDPA driver was loaded
     * and took it first (with {@code /sys/bus/vdpa/drivers_autoprobe} on); if that is another,
     * it is unbound, and {@code driver_override} makes {@code driver} the only one that may take
     * it, now and on every later probe.
     */
    private void bind(String name, VdpaDriver driver) throws VdpaException {
        Path device = sysBus.resolve("devices").resolve(name);
        if (boundDriver(device) == driver) {
            return;
        }
        Path drivers = sysBus.resolve("drivers");
        requireDriver(name, driver);
        try {
            Path current = device.resolve("driver");
            if (Files.exists(current)) {
                Files.writeString(current.resolve("unbind"), name);
            }
            Files.writeString(device.resolve("driver_override"), driver.moduleName());
            if (boundDriver(device) != driver) {
                Files.writeString(drivers.resolve(driver.moduleName()).resolve("bind"), name);
            }
        } catch (IOException e) {
            throw new VdpaException("cannot bind " + name + " to " + driver.moduleName() + " through "
                    + device + ": " + e, 0, e);
        }
        if (boundDriver(device) != driver) {
            throw new VdpaException("cannot bind " + name + " to " + driver.moduleName() + ": sysfs took the bind but "
                    + "the device is not bound to it", 0, null);
        }
    }

    private void requireDriver(String name, VdpaDriver driver) throws VdpaException {
        if (!Files.isDirectory(sysBus.resolve("drivers").resolve(driver.moduleName()))) {
            throw new VdpaException("cannot bind " + name + " to " + driver.moduleName() + ": the driver is not loaded "
                    + "(modprobe " + driver.moduleName() + ")", 0, null);
        }
    }

    /** The driver the device is bound to, or null for none or another. */
    private static VdpaDriver boundDriver(Path device) {
        Path link = device.resolve("driver");
        if (!Files.isSymbolicLink(link)) {
            return null;
        }
        try {
            String bound = Files.readSymbolicLink(link).getFileName().toString();
            for (VdpaDriver d : VdpaDriver.values()) {
                if (d.moduleName().equals(bound)) {
                    return d;
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Waits a little for the driver's node to show: a disk's probe may finish after the bind returns. */
    private Optional<Path> awaitNode(String name, VdpaDriver driver) {
        Path device = sysBus.resolve("devices").resolve(name);
        long deadline = System.nanoTime() + NODE_WAIT_MILLIS * 1_000_000;
        while (true) {
            Optional<Path> node = node(device, driver);
            if (node.isPresent() || System.nanoTime() > deadline) {
                return node;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return node;
            }
        }
    }

    /**
     * The node in sysfs: {@code devices/NAME/vhost-vdpa-N} under {@code vhost_vdpa}, and
     * {@code devices/NAME/virtioN/block/vdX} under {@code virtio_vdpa}.
     */
    static Optional<Path> node(Path device, VdpaDriver driver) {
        try (Stream<Path> children = Files.list(device)) {
            List<Path> list = children.toList();
            if (driver == VdpaDriver.VHOST_VDPA) {
                return list.stream().map(p -> p.getFileName().toString()).filter(n -> n.startsWith("vhost-vdpa-"))
                        .findFirst().map(n -> Path.of("/dev", n));
            }
            for (Path child : list) {
                Path block = child.resolve("block");
                if (child.getFileName().toString().startsWith("virtio") && Files.isDirectory(block)) {
                    try (Stream<Path> disks = Files.list(block)) {
                        Optional<Path> disk = disks.findFirst().map(d -> Path.of("/dev", d.getFileName().toString()));
                        if (disk.isPresent()) {
                            return disk;
                        }
                    }
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
