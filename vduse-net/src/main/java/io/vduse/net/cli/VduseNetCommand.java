package io.vduse.net.cli;

import io.vduse.core.VduseKernel;
import io.vduse.net.MacAddress;
import io.vduse.net.NetOptions;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code vduse-net} command line: its options and their checks; {@link NetService} serves. */
@Command(name = "vduse-net", mixinStandardHelpOptions = true, version = "vduse-net 0.1.0",
        sortOptions = false, usageHelpWidth = 100,
        description = {
            "Serves a virtio-net device from userspace through Linux's VDUSE, bridged to a TAP interface",
            "(--tap), or two devices wired to each other (--peer). Once it prints 'vduse-net: ready: ...',",
            "attach each device with",
            "  vdpa dev add name NAME mgmtdev vduse",
            "and the kernel's virtio_net driver shows a network interface (with virtio_vdpa loaded).",
            "With --tap the device's link follows the TAP's administrative state (ip link set TAP up|down).",
            "Ctrl-C (SIGINT) or SIGTERM destroys the device(s); SIGUSR1 prints the counters, as does the exit.",
            ""},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:served until stopped",
            "1:the device could not start or stopped on an error",
            "2:a bad option or value"})
final class VduseNetCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--name", paramLabel = "NAME", required = true,
            description = "VDUSE device name: /dev/vduse/NAME, and the name for vdpa dev add.")
    String name;

    @Option(names = "--tap", paramLabel = "TAP",
            description = "The TAP interface to bridge to, created if it does not exist (at most 15 bytes); one "
                    + "created is persistent while vduse-net runs, so that a kill leaves it for --reconnect, and "
                    + "removed at the stop. An existing one is left as found.")
    String tap;

    @Option(names = "--peer", paramLabel = "NAME2",
            description = "Instead of --tap: a second device, NAME2, wired to the first in this process "
                    + "(a virtual cable), so that two network namespaces talk with no TAP.")
    String peer;

    @Option(names = "--mac", paramLabel = "MAC",
            description = "The device's MAC address, six hex octets (default: random, locally administered). "
                    + "A --peer gets a random one.")
    String mac;

    @Option(names = "--mtu", paramLabel = "N", defaultValue = "1500",
            description = "The MTU in the config space, " + NetOptions.MIN_MTU + " to " + NetOptions.MAX_MTU
                    + " (default ${DEFAULT-VALUE}).")
    int mtu;

    @Option(names = "--queue-size", paramLabel = "N", defaultValue = "256",
            description = "Largest ring per queue, a power of two up to 32768 (default ${DEFAULT-VALUE}).")
    int queueSize;

    @Option(names = "--packed-ring",
            description = "Offer packed virtqueues (VIRTIO_F_RING_PACKED); the driver picks.")
    boolean packedRing;

    @Option(names = "--reconnect",
            description = "Take over the device(s) of these names that a stopped or killed vduse-net left in the "
                    + "kernel, instead of creating them: the driver keeps its interface (and its name); give the "
                    + "same --mac and --mtu, which the kernel kept. The --tap the killed process made stays (up, "
                    + "with its addresses) and is taken over, to be removed at this one's stop.")
    boolean reconnect;

    @Option(names = "--stats-interval", paramLabel = "SECONDS", defaultValue = "0",
            description = "Print the counters every SECONDS (0, the default: only on SIGUSR1 and at exit).")
    int statsInterval;

    @Override
    public Integer call() throws Exception {
        NetOptions first = options();
        if (statsInterval < 0) {
            throw bad("--stats-interval", statsInterval + " is negative");
        }
        if ((tap == null) == (peer == null)) {
            throw new ParameterException(spec.commandLine(), tap == null
                    ? "Missing --tap (a TAP interface to bridge to) or --peer (a second device on a cable)"
                    : "--tap and --peer exclude each other: a device has one backend");
        }
        NetOptions second = null;
        if (peer != null) {
            if (peer.equals(name)) {
                throw bad("--peer", "the peer needs a name of its own, not " + name);
            }
            second = check("--peer", () -> first.withMac(MacAddress.random()).withName(peer));
        }
        if (tap != null && (tap.isEmpty() || tap.getBytes(java.nio.charset.StandardCharsets.US_ASCII).length > 15
                || tap.contains("/") || tap.contains(" "))) {
            throw bad("--tap", "an interface name is 1 to 15 bytes, without '/' or spaces: '" + tap + "'");
        }
        return new NetService(first, second, tap, statsInterval, VduseKernel.linux(), spec.commandLine().getOut(),
                spec.commandLine().getErr()).run();
    }

    /** The first device's options, each value checked and refused naming its option. */
    private NetOptions options() {
        if (name.isEmpty() || name.contains("/")) {
            throw bad("--name", "a device name is not empty and has no '/': '" + name + "'");
        }
        NetOptions base = check("--name", () -> NetOptions.of(name));
        MacAddress address = mac == null ? base.mac() : check("--mac", () -> MacAddress.parse(mac));
        NetOptions withMac = base.withMac(address);
        NetOptions withMtu = check("--mtu", () -> withMac.withMtu(mtu));
        return check("--queue-size", () -> withMtu.withQueueSize(queueSize)).withPackedRing(packedRing)
                .withReconnect(reconnect);
    }

    private <T> T check(String option, Supplier<T> build) {
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            throw bad(option, e.getMessage());
        }
    }

    private ParameterException bad(String option, String why) {
        return new ParameterException(spec.commandLine(), "Invalid value for option '" + option + "': " + why);
    }
}
