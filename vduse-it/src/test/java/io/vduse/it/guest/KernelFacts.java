package io.vduse.it.guest;

import io.vduse.api.Ioctl;
import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseConfigData;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.VduseIotlbEntry;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseIovaInfo;
import io.vduse.api.VduseVqConfig;
import io.vduse.api.VduseVqEventfd;
import io.vduse.api.VduseVqInfo;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.it.LinuxCalls;
import io.vduse.it.LinuxCalls.Result;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Runs inside the test guest (or natively, as root, where {@code /dev/vduse/control} exists):
 * asks the real kernel's VDUSE what it does, through the Foreign Function &amp; Memory API and the
 * layouts and ioctl numbers of {@code io.vduse.api}, and prints one line per observation:
 *
 * <pre>
 * FACT key=value
 * </pre>
 *
 * where value is {@code ok}, an errno ({@code EINVAL(22)}), a number or a word. The last line is
 * {@code FACTS_DONE}. The program judges nothing: {@code KernelFactsTest} asserts on the lines;
 * the full table is also what the simulated kernel in {@code vduse-core} must reproduce.
 *
 * <p>The same program runs on 6.12 (VDUSE API 0 only) and 7.3 (API 1, control-fd features). The
 * device facts are asked with API 0 set explicitly, so both kernels answer the same questions;
 * the API 1 and feature facts are asked on fresh control fds of their own.
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp ... io.vduse.it.guest.KernelFacts}
 */
public final class KernelFacts {

    /** The control device. */
    static final Path CONTROL = Path.of("/dev/vduse/control");
    /** Prefix of every device this program creates; leftovers of an earlier run are destroyed. */
    static final String PREFIX = "vduse-it-";

    /** VDUSE_GET_FEATURES / VDUSE_SET_FEATURES of the control fd (7.3's uapi); unknown on 6.12. */
    static final Ioctl CONTROL_GET_FEATURES = VduseIoctls.GET_FEATURES;
    static final Ioctl CONTROL_SET_FEATURES = VduseIoctls.SET_FEATURES;

    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM);
    private static final byte[] BLK_CONFIG = VirtioBlkConfig.ofCapacity(2048).toBytes();

    private final Map<String, String> facts = new LinkedHashMap<>();
    private final Arena arena = Arena.ofConfined();

    private KernelFacts() {}

    public static void main(String[] args) throws Exception {
        KernelFacts probe = new KernelFacts();
        int status = 0;
        try {
            probe.run();
        } catch (RuntimeException | IOException | InterruptedException e) {
            probe.fact("probe.aborted", e.toString().replace('\n', ' '));
            e.printStackTrace(System.out);
            status = 1;
        }
        probe.printTable();
        System.out.println("FACTS_DONE");
        System.out.flush();
        System.exit(status);
    }

    private void fact(String key, Object value) {
        facts.put(key, String.valueOf(value));
        System.out.println("FACT " + key + "=" + value);
        System.out.flush();
    }

    private void printTable() {
        System.out.println();
        String rule = "+" + "-".repeat(34) + "+" + "-".repeat(72) + "+";
        System.out.println(rule);
        System.out.printf("| %-32s | %-70s |%n", "observation", "kernel " + System.getProperty("os.version"));
        System.out.println(rule);
        facts.forEach((k, v) -> System.out.printf("| %-32s | %-70s |%n", k, v.length() > 70 ? v.substring(0, 67) + "..." : v));
        System.out.println(rule);
    }

    private void run() throws IOException, InterruptedException {
        fact("kernel", System.getProperty("os.version"));
        Result control = LinuxCalls.open(CONTROL.toString(), LinuxCalls.O_RDWR | LinuxCalls.O_CLOEXEC);
        fact("control.open", control.describe());
        if (!control.ok()) {
            return;
        }
        int ctl = control.value();
        destroyLeftovers(ctl);

        // (a) the API version, and that a wrong request number is refused rather than guessed at.
        MemorySegment u64 = arena.allocate(Layouts.U64);
        Result get = LinuxCalls.ioctl(ctl, VduseIoctls.GET_API_VERSION.request(), u64);
        fact("get_api_version", get.ok() ? Long.toString(u64.get(Layouts.U64, 0)) : get.describe());
        Ioctl wrongSize = Ioctl.read("VDUSE_GET_API_VERSION(u32)", Vduse.BASE, 0x00, Layouts.U32);
        fact("get_api_version.wrong_size_request", LinuxCalls.ioctl(ctl, wrongSize.request(), u64).describe());
        fact("ioctl.unknown_nr", LinuxCalls.ioctl(ctl, Ioctl.none("nr 0x7f", Vduse.BASE, 0x7f).request(),
                MemorySegment.NULL).describe());

        // SET_API_VERSION 1 and 2 on a separate control fd: each open file has its own version.
        int other = openControl();
        u64.set(Layouts.U64, 0, Vduse.API_VERSION_1);
        fact("set_api_version.1", LinuxCalls.ioctl(other, VduseIoctls.SET_API_VERSION.request(), u64).describe());
        u64.set(Layouts.U64, 0, 2);
        fact("set_api_version.2", LinuxCalls.ioctl(other, VduseIoctls.SET_API_VERSION.request(), u64).describe());
        LinuxCalls.close(other);

        // CREATE_DEV (an API 0 layout: ngroups = nas = 0) on a fd that was asked nothing, and on
        // one that was asked GET_API_VERSION: 7.3 settles a fd's version at its first such call.
        int fresh = openControl();
        String unversioned = PREFIX + "unversioned";
        fact("create.without_set_api_version", create(fresh, blk(unversioned)).describe());
        destroyQuietly(fresh, unversioned);
        LinuxCalls.close(fresh);
        int asked = openControl();
        LinuxCalls.ioctl(asked, VduseIoctls.GET_API_VERSION.request(), u64);
        refused(asked, "create.after_get_api_version", blk(PREFIX + "asked"));
        LinuxCalls.close(asked);

        controlFeatureFacts();
        api1Facts();

        // Everything below on API 0, asked for explicitly: the same questions on both kernels.
        u64.set(Layouts.U64, 0, Vduse.API_VERSION_0);
        fact("set_api_version.0", LinuxCalls.ioctl(ctl, VduseIoctls.SET_API_VERSION.request(), u64).describe());

        // (b) the life of a virtio-blk device.
        String name = PREFIX + "blk0";
        Path node = Path.of("/dev/vduse", name);
        Result created = create(ctl, blk(name));
        fact("create.blk", created.describe());
        if (created.ok()) {
            fact("devnode.after_create", waitFor(node, true) ? "present" : "absent");
            fact("sysfs.attributes", listing(Path.of("/sys/class/vduse", name)));
            fact("sysfs.msg_timeout", read(Path.of("/sys/class/vduse", name, "msg_timeout")));
            fact("sysfs.bounce_size", read(Path.of("/sys/class/vduse", name, "bounce_size")));

            Result dev = LinuxCalls.open(node.toString(), LinuxCalls.O_RDWR | LinuxCalls.O_CLOEXEC);
            fact("dev.open", dev.describe());
            if (dev.ok()) {
                Result second = LinuxCalls.open(node.toString(), LinuxCalls.O_RDWR | LinuxCalls.O_CLOEXEC);
                fact("dev.open.second", second.describe());
                if (second.ok()) {
                    LinuxCalls.close(second.value());
                }
                deviceFacts(dev.value());
                fact("destroy.while_open", destroy(ctl, name).describe());
                LinuxCalls.close(dev.value());
            }
            fact("vdpa.mgmtdev", vdpaMgmtdev());
            fact("create.duplicate_name", create(ctl, blk(name)).describe());
            fact("destroy.blk", destroy(ctl, name).describe());
            fact("devnode.after_destroy", waitFor(node, false) ? "absent" : "present");
        }
        fact("destroy.missing", destroy(ctl, PREFIX + "missing").describe());

        // (c) what CREATE_DEV refuses. Anything accepted by surprise is recorded and destroyed.
        refused(ctl, "create.no_access_platform", with(blk(PREFIX + "c1"), FEATURES & ~VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM)));
        refused(ctl, "create.no_version_1", with(blk(PREFIX + "c2"), FEATURES & ~VirtioFeatures.bit(VirtioFeatures.VERSION_1)));
        refused(ctl, "create.blk_config_wce", with(blk(PREFIX + "c3"), FEATURES | VirtioFeatures.bit(VirtioBlk.F_CONFIG_WCE)));
        refused(ctl, "create.device_id_99", device(blk(PREFIX + "c4"), 99));
        refused(ctl, "create.device_id_fs", device(blk(PREFIX + "c5"), VirtioDeviceId.FS));
        refused(ctl, "create.device_id_console", device(blk(PREFIX + "c6"), VirtioDeviceId.CONSOLE));
        refused(ctl, "create.name_with_slash", blk(PREFIX + "a/b"));
        refused(ctl, "create.vq_align_8192", align(blk(PREFIX + "c7"), 8192));
        refused(ctl, "create.vq_align_4096", align(blk(PREFIX + "c8"), 4096));
        refused(ctl, "create.vq_align_0", align(blk(PREFIX + "c9"), 0));
        refused(ctl, "create.vq_num_65536", vqNum(blk(PREFIX + "c10"), 65536));
        refused(ctl, "create.vq_num_0", vqNum(blk(PREFIX + "c11"), 0));
        refused(ctl, "create.config_size_4096", config(blk(PREFIX + "c12"), new byte[Vduse.CONFIG_SIZE_MAX]));
        refused(ctl, "create.config_size_0", config(blk(PREFIX + "c13"), new byte[0]));

        // What the record refuses to build: written by hand.
        MemorySegment big = struct(blk(PREFIX + "c14"), Vduse.CONFIG_SIZE_MAX + 1);
        big.set(Layouts.U32, VduseDevConfig.CONFIG_SIZE, Vduse.CONFIG_SIZE_MAX + 1);
        refusedRaw(ctl, "create.config_size_4097", big, PREFIX + "c14");
        MemorySegment reserved = struct(blk(PREFIX + "c15"), 0);
        reserved.set(Layouts.U32, VduseDevConfig.RESERVED, 1);
        refusedRaw(ctl, "create.reserved_nonzero", reserved, PREFIX + "c15");
        MemorySegment empty = struct(blk(PREFIX + "c16"), 0);
        empty.asSlice(VduseDevConfig.NAME, Vduse.NAME_MAX).fill((byte) 0);
        refusedRaw(ctl, "create.empty_name", empty, "");
        MemorySegment v1Fields = struct(blk(PREFIX + "c17"), 0);
        v1Fields.set(Layouts.U32, VduseDevConfig.NGROUPS, 1);
        v1Fields.set(Layouts.U32, VduseDevConfig.NAS, 1);
        refusedRaw(ctl, "create.v0_with_ngroups_nas", v1Fields, PREFIX + "c17");

        LinuxCalls.close(ctl);

        // (d) user bounce memory, on a device attached to virtio_vdpa with a read held in flight.
        UmemFacts.ask(this::fact);
    }

    /** A new control fd: its API version and features are its own. */
    private static int openControl() {
        Result r = LinuxCalls.open(CONTROL.toString(), LinuxCalls.O_RDWR | LinuxCalls.O_CLOEXEC);
        if (!r.ok()) {
            throw new IllegalStateException("second open of " + CONTROL + ": " + r.describe());
        }
        return r.value();
    }

    /** VDUSE_GET_FEATURES / VDUSE_SET_FEATURES on a fresh control fd (7.3; unknown to 6.12). */
    private void controlFeatureFacts() {
        int fd = openControl();
        MemorySegment u64 = arena.allocate(Layouts.U64);
        u64.set(Layouts.U64, 0, 0xdead_beefL); // not what an answer would leave
        Result get = LinuxCalls.ioctl(fd, CONTROL_GET_FEATURES.request(), u64);
        fact("control.get_features", get.ok() ? "0x" + Long.toHexString(u64.get(Layouts.U64, 0)) : get.describe());
        // A bit the kernel does not offer, then exactly the two it offers on 7.3.
        u64.set(Layouts.U64, 0, 0x4);
        fact("control.set_features.0x4", LinuxCalls.ioctl(fd, CONTROL_SET_FEATURES.request(), u64).describe());
        u64.set(Layouts.U64, 0, 0x3);
        fact("control.set_features.0x3", LinuxCalls.ioctl(fd, CONTROL_SET_FEATURES.request(), u64).describe());
        LinuxCalls.close(fd);
    }

    /**
     * CREATE_DEV under API 1, on a fresh control fd: ngroups and nas must then be at least 1. On a
     * kernel that refuses SET_API_VERSION 1 (6.12) the questions are not asked, and say so.
     */
    private void api1Facts() throws IOException {
        int fd = openControl();
        MemorySegment u64 = arena.allocate(Layouts.U64);
        u64.set(Layouts.U64, 0, Vduse.API_VERSION_1);
        Result set = LinuxCalls.ioctl(fd, VduseIoctls.SET_API_VERSION.request(), u64);
        if (set.ok()) {
            refused(fd, "api1.create.ngroups_0_nas_0", groups(blk(PREFIX + "v1a"), 0, 0));
            refused(fd, "api1.create.ngroups_1_nas_1", groups(blk(PREFIX + "v1b"), 1, 1));
        } else {
            String why = "not asked: SET_API_VERSION 1 " + set.describe();
            fact("api1.create.ngroups_0_nas_0", why);
            fact("api1.create.ngroups_1_nas_1", why);
        }
        LinuxCalls.close(fd);
    }

    /** VQ ioctls on an open device fd. */
    private void deviceFacts(int fd) {
        MemorySegment u64 = arena.allocate(Layouts.U64);
        Result features = LinuxCalls.ioctl(fd, VduseIoctls.DEV_GET_FEATURES.request(), u64);
        fact("dev.get_features", features.ok() ? "0x" + Long.toHexString(u64.get(Layouts.U64, 0)) : features.describe());

        MemorySegment vq = arena.allocate(VduseVqConfig.LAYOUT);
        new VduseVqConfig(0, 256, 0).writeTo(vq);
        fact("vq_setup.q0_256", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP.request(), vq).describe());
        new VduseVqConfig(1, 256, 0).writeTo(vq);
        fact("vq_setup.q1_out_of_range", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP.request(), vq).describe());
        new VduseVqConfig(0, 0, 0).writeTo(vq);
        fact("vq_setup.q0_size_0", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP.request(), vq).describe());
        new VduseVqConfig(0, 100, 0).writeTo(vq);
        fact("vq_setup.q0_size_100", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP.request(), vq).describe());
        new VduseVqConfig(0, 256, 0).writeTo(vq);
        vq.set(Layouts.U16, 6, (short) 1);
        fact("vq_setup.q0_reserved1_nonzero", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP.request(), vq).describe());
        new VduseVqConfig(0, 256, 0).writeTo(vq);
        fact("vq_setup.q0_again_256", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP.request(), vq).describe());

        MemorySegment info = arena.allocate(VduseVqInfo.LAYOUT);
        VduseVqInfo.writeQuery(info, 0);
        Result got = LinuxCalls.ioctl(fd, VduseIoctls.VQ_GET_INFO.request(), info);
        fact("vq_get_info.q0", got.ok() ? VduseVqInfo.readFrom(info, false).toString() : got.describe());
        VduseVqInfo.writeQuery(info, 1);
        fact("vq_get_info.q1_out_of_range", LinuxCalls.ioctl(fd, VduseIoctls.VQ_GET_INFO.request(), info).describe());

        // Config space updates: {offset, length} against the config_size given at creation.
        MemorySegment cfg = arena.allocate(VduseConfigData.BUFFER + 64, 8);
        fact("set_config.capacity", setConfig(fd, cfg, 0, 8));
        fact("set_config.last_byte", setConfig(fd, cfg, BLK_CONFIG.length - 1, 1));
        fact("set_config.past_end", setConfig(fd, cfg, BLK_CONFIG.length - 4, 8));
        fact("set_config.length_0", setConfig(fd, cfg, 0, 0));
        fact("set_config.offset_at_end_length_0", setConfig(fd, cfg, BLK_CONFIG.length, 0));
        fact("set_config.offset_overflow", setConfig(fd, cfg, 0xffff_fffc, 8));

        // Interrupts and kicks before any driver: the device is not DRIVER_OK.
        fact("inject_config_irq.before_driver",
                LinuxCalls.ioctl(fd, VduseIoctls.DEV_INJECT_CONFIG_IRQ.request(), MemorySegment.NULL).describe());
        MemorySegment u32 = arena.allocate(Layouts.U32);
        u32.set(Layouts.U32, 0, 0);
        fact("vq_inject_irq.q0_before_driver", LinuxCalls.ioctl(fd, VduseIoctls.VQ_INJECT_IRQ.request(), u32).describe());
        u32.set(Layouts.U32, 0, 1);
        fact("vq_inject_irq.q1_out_of_range", LinuxCalls.ioctl(fd, VduseIoctls.VQ_INJECT_IRQ.request(), u32).describe());
        MemorySegment kick = arena.allocate(VduseVqEventfd.LAYOUT);
        new VduseVqEventfd(0, Vduse.EVENTFD_DEASSIGN).writeTo(kick);
        fact("vq_setup_kickfd.q0_deassign", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP_KICKFD.request(), kick).describe());
        new VduseVqEventfd(0, 9999).writeTo(kick);
        fact("vq_setup_kickfd.q0_bad_fd", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP_KICKFD.request(), kick).describe());
        new VduseVqEventfd(1, Vduse.EVENTFD_DEASSIGN).writeTo(kick);
        fact("vq_setup_kickfd.q1_out_of_range", LinuxCalls.ioctl(fd, VduseIoctls.VQ_SETUP_KICKFD.request(), kick).describe());

        // The IOVA space before the device is on the vDPA bus ("vdpa dev add"): 6.12 answers EINVAL,
        // presumably because the device's IOVA domain is only made when it joins the bus.
        MemorySegment entry = arena.allocate(VduseIotlbEntry.LAYOUT);
        VduseIotlbEntry.query(0, 0xfff).writeTo(entry);
        Result gotFd = LinuxCalls.ioctl(fd, VduseIoctls.IOTLB_GET_FD.request(), entry);
        fact("iotlb_get_fd.unmapped", gotFd.ok() ? "fd " + VduseIotlbEntry.readFrom(entry) : gotFd.describe());
        if (gotFd.ok()) {
            LinuxCalls.close(gotFd.value());
        }
        MemorySegment iova = arena.allocate(VduseIovaInfo.LAYOUT);
        iova.fill((byte) 0);
        Result gotInfo = LinuxCalls.ioctl(fd, VduseIoctls.IOTLB_GET_INFO.request(), iova);
        fact("iotlb_get_info.at_0", gotInfo.ok() ? VduseIovaInfo.readFrom(iova).toString() : gotInfo.describe());
    }

    /** VDUSE_DEV_SET_CONFIG of {@code length} bytes (0x5a) at {@code offset}, written by hand. */
    private static String setConfig(int fd, MemorySegment buf, int offset, int length) {
        buf.fill((byte) 0x5a);
        buf.set(Layouts.U32, VduseConfigData.OFFSET, offset);
        buf.set(Layouts.U32, VduseConfigData.LENGTH, length);
        return LinuxCalls.ioctl(fd, VduseIoctls.DEV_SET_CONFIG.request(), buf).describe();
    }

    private static VduseDevConfig blk(String name) {
        return new VduseDevConfig(name, 0, VirtioDeviceId.BLOCK, FEATURES, 1, 4096, 0, 0, BLK_CONFIG);
    }

    private static VduseDevConfig with(VduseDevConfig c, long features) {
        return new VduseDevConfig(c.name(), c.vendorId(), c.deviceId(), features, c.vqNum(), c.vqAlign(), 0, 0, c.config());
    }

    private static VduseDevConfig device(VduseDevConfig c, int id) {
        return new VduseDevConfig(c.name(), c.vendorId(), id, c.features(), c.vqNum(), c.vqAlign(), 0, 0, c.config());
    }

    private static VduseDevConfig align(VduseDevConfig c, int align) {
        return new VduseDevConfig(c.name(), c.vendorId(), c.deviceId(), c.features(), c.vqNum(), align, 0, 0, c.config());
    }

    private static VduseDevConfig vqNum(VduseDevConfig c, int n) {
        return new VduseDevConfig(c.name(), c.vendorId(), c.deviceId(), c.features(), n, c.vqAlign(), 0, 0, c.config());
    }

    private static VduseDevConfig groups(VduseDevConfig c, int ngroups, int nas) {
        return new VduseDevConfig(c.name(), c.vendorId(), c.deviceId(), c.features(), c.vqNum(), c.vqAlign(), ngroups, nas, c.config());
    }

    private static VduseDevConfig config(VduseDevConfig c, byte[] config) {
        return new VduseDevConfig(c.name(), c.vendorId(), c.deviceId(), c.features(), c.vqNum(), c.vqAlign(), 0, 0, config);
    }

    /** The struct of {@code c} in a buffer with room for {@code extra} more config bytes. */
    private MemorySegment struct(VduseDevConfig c, int extra) {
        MemorySegment s = arena.allocate(c.byteSize() + extra, 8);
        c.writeTo(s);
        return s;
    }

    private Result create(int ctl, VduseDevConfig c) {
        return LinuxCalls.ioctl(ctl, VduseIoctls.CREATE_DEV.request(), struct(c, 0));
    }

    private Result destroy(int ctl, String name) {
        MemorySegment buf = arena.allocate(Vduse.NAME_MAX);
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        MemorySegment.copy(bytes, 0, buf, Layouts.U8, 0, Math.min(bytes.length, Vduse.NAME_MAX - 1));
        return LinuxCalls.ioctl(ctl, VduseIoctls.DESTROY_DEV.request(), buf);
    }

    private void destroyQuietly(int ctl, String name) {
        destroy(ctl, name);
    }

    /** Records what CREATE_DEV says to {@code c}; if it was accepted, where it appeared, then destroys it. */
    private void refused(int ctl, String key, VduseDevConfig c) throws IOException {
        refusedRaw(ctl, key, struct(c, 0), c.name());
    }

    private void refusedRaw(int ctl, String key, MemorySegment struct, String name) throws IOException {
        Result r = LinuxCalls.ioctl(ctl, VduseIoctls.CREATE_DEV.request(), struct);
        if (!r.ok()) {
            fact(key, r.describe());
            return;
        }
        String appeared = listing(Path.of("/dev/vduse"));
        fact(key, "ok (/dev/vduse: " + appeared + "; destroy: " + destroy(ctl, name).describe() + ")");
    }

    private void destroyLeftovers(int ctl) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/dev/vduse"))) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(PREFIX)) {
                    System.out.println("destroying leftover " + n + ": " + destroy(ctl, n).describe());
                }
            }
        }
    }

    private static boolean waitFor(Path node, boolean present) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (Files.exists(node) != present) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    private static String listing(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return "(no " + dir + ")";
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.joining(","));
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** {@code vdpa mgmtdev show}, on one line; whether it lists vduse is for the test to judge. */
    private static String vdpaMgmtdev() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("vdpa", "mgmtdev", "show").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        return (rc == 0 ? "" : "exit " + rc + ": ") + out.strip().replaceAll("\\s+", " ");
    }
}
