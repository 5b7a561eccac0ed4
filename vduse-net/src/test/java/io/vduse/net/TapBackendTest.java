package io.vduse.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.vduse.api.virtio.VirtioNet;
import io.vduse.core.ErrnoException;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedKernel;
import io.vduse.net.GuestNic.Received;
import io.vduse.net.NetCounters.Counter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TapBackend} on this machine's {@code /dev/net/tun} (skipped where there is none, or
 * without CAP_NET_ADMIN): the interface it makes, frames written into the host's stack, frames
 * the host sends read back, and a device on the simulated kernel bridged to the TAP; a TAP
 * left by a killed process (persistent, up, with its address) taken over and removed. Each TAP
 * is made by the test and goes away when its backend (or the test) closes it.
 */
class TapBackendTest {

    private static final Path TUN = Path.of("/dev/net/tun");
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    /** The runtime directory the tool's marks go to ({@code VduseKernel.runtimeDirectory()}). */
    @TempDir
    static Path runtime;

    @BeforeAll
    static void needsTun() {
        assumeThat(Files.exists(TUN)).as("/dev/net/tun exists").isTrue();
        try {
            TapBackend.open(name(), runtime, false).close();
        } catch (ErrnoException e) {
            assumeThat(e.getMessage()).as("may create a TAP (CAP_NET_ADMIN)").isNull();
        }
    }

    private static String name() {
        return "vdnt" + ProcessHandle.current().pid() % 10000 + "x" + SEQUENCE.incrementAndGet();
    }

    private static Path sys(String tap, String file) {
        return Path.of("/sys/class/net", tap, file);
    }

    private static long statistic(String tap, String counter) throws IOException {
        return Long.parseLong(Files.readString(sys(tap, "statistics/" + counter)).strip());
    }

    private static void up(String tap) throws Exception {
        set(tap, "up");
    }

    /** {@code ip link set dev TAP up|down}, as an administrator on the host does. */
    private static void set(String tap, String state) throws Exception {
        ip("link", "set", "dev", tap, state);
    }

    /** Runs {@code ip ARGS...} (iproute2; the test is skipped without it) and asks for success; its output. */
    private static String ip(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Process ip;
        try {
            ip = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeThat(e.getMessage()).as("the ip tool (iproute2) for " + command).isNull();
            return "";
        }
        String output = new String(ip.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(ip.waitFor()).as("%s: %s", command, output).isZero();
        return output;
    }

    private static int tunFlags(String tap) throws IOException {
        return Integer.decode(Files.readString(sys(tap, "tun_flags")).strip());
    }

    private static int linkStatus(GuestNic nic) {
        return nic.driver.config()[VirtioNet.CONFIG_STATUS] & VirtioNet.S_LINK_UP;
    }

    @Test
    void theDevicesLinkFollowsTheTapsAdministrativeStateWithAConfigInterruptEachTime() throws Exception {
        String name = name();
        SimulatedKernel kernel = new SimulatedKernel();
        try (TapBackend tap = TapBackend.open(name, runtime, false);
                VirtioNetDevice device = VirtioNetDevice.start(NetOptions.of("netlink"), tap, kernel);
                GuestNic nic = new GuestNic(kernel, "netlink", SimulatedDriver.Options.defaults().withQueueSize(64))) {
            // A TAP is made down: so is the link the driver finds.
            assertThat(tap.linkUp()).isFalse();
            assertThat(device.linkUp()).isFalse();
            assertThat(linkStatus(nic)).isZero();
            int interrupts = nic.driver.configInterrupts();

            up(name);
            GuestNic.await(() -> nic.driver.configInterrupts() == interrupts + 1);
            assertThat(linkStatus(nic)).isEqualTo(VirtioNet.S_LINK_UP);
            assertThat(device.linkUp()).isTrue();

            set(name, "down");
            GuestNic.await(() -> nic.driver.configInterrupts() == interrupts + 2);
            assertThat(linkStatus(nic)).isZero();
            assertThat(device.linkUp()).isFalse();

            set(name, "up");
            GuestNic.await(() -> nic.driver.configInterrupts() == interrupts + 3);
            assertThat(linkStatus(nic)).isEqualTo(VirtioNet.S_LINK_UP);
            // One interrupt per change, none while the state stays.
            Thread.sleep(3L * TapBackend.LINK_POLL_MILLIS);
            assertThat(nic.driver.configInterrupts()).isEqualTo(interrupts + 3);
        }
    }

    @Test
    void theInterfaceIsATapWithVnetHeadersAndGoesAwayWithTheBackend() throws Exception {
        String name = name();
        try (TapBackend tap = TapBackend.open(name, runtime, false)) {
            assertThat(tap.interfaceName()).isEqualTo(name);
            assertThat(tap.created()).isTrue();
            int flags = Integer.decode(Files.readString(sys(name, "tun_flags")).strip());
            assertThat(flags & (Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR))
                    .isEqualTo(Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR);
        }
        assertThat(sys(name, "tun_flags")).doesNotExist();
        assertThat(runtime.resolve(TapBackend.MARKS).resolve(name)).doesNotExist();
    }

    @Test
    void aTapLeftByAKilledProcessStaysUpWithItsAddressAndTheProcessTakingOverRemovesIt() throws Exception {
        String name = name();
        Path mark = runtime.resolve(TapBackend.MARKS).resolve(name);
        try {
            TapBackend first = TapBackend.open(name, runtime, false);
            // Persistent while it is open, marked as the tool's.
            assertThat(tunFlags(name) & Tun.IFF_PERSIST).isEqualTo(Tun.IFF_PERSIST);
            assertThat(mark).exists();
            up(name);
            ip("addr", "add", "198.51.100.7/32", "dev", name);
            first.detach(); // its file closed as a kill closes it; nothing else done

            assertThat(sys(name, "tun_flags")).as("the TAP outlives its process").exists();
            assertThat(ip("-o", "addr", "show", "dev", name)).contains("198.51.100.7/32");
            // A start without --reconnect attaches to it and leaves it as it found it.
            try (TapBackend attached = TapBackend.open(name, runtime, false)) {
                assertThat(attached.created()).isFalse();
                assertThat(attached.owned()).isFalse();
            }
            assertThat(sys(name, "tun_flags")).exists();
            assertThat(mark).exists();

            try (TapBackend second = TapBackend.open(name, runtime, true)) {
                assertThat(second.created()).isFalse();
                assertThat(second.owned()).isTrue();
                assertThat(second.linkUp()).as("still up, as the administrator left it").isTrue();
                assertThat(ip("-o", "addr", "show", "dev", name)).contains("198.51.100.7/32");
            }
            assertThat(sys(name, "tun_flags")).as("removed at the stop of the one that took it over").doesNotExist();
            assertThat(mark).doesNotExist();
        } finally {
            if (Files.exists(sys(name, "tun_flags"))) {
                ip("tuntap", "del", "dev", name, "mode", "tap");
            }
        }
    }

    @Test
    void aPersistentTapAnAdministratorMadeIsLeftAsFoundEvenWhenTakingOver() throws Exception {
        String name = name();
        ip("tuntap", "add", "dev", name, "mode", "tap");
        try {
            try (TapBackend tap = TapBackend.open(name, runtime, true)) {
                assertThat(tap.created()).isFalse();
                assertThat(tap.owned()).isFalse();
            }
            assertThat(tunFlags(name) & Tun.IFF_PERSIST).isEqualTo(Tun.IFF_PERSIST);
        } finally {
            ip("tuntap", "del", "dev", name, "mode", "tap");
        }
    }

    @Test
    void theIoctlNumbersAreTheKernelsOnes() {
        // <linux/if_tun.h>: _IOW('T', 202, int), _IOW('T', 208, unsigned int), _IOW('T', 216, int).
        assertThat(Tun.SETIFF.request()).isEqualTo(0x400454caL);
        assertThat(Tun.SETOFFLOAD.request()).isEqualTo(0x400454d0L);
        assertThat(Tun.SETVNETHDRSZ.request()).isEqualTo(0x400454d8L);
        // _IOW('T', 203, int), _IOR('T', 210, unsigned int).
        assertThat(Tun.SETPERSIST.request()).isEqualTo(0x400454cbL);
        assertThat(Tun.GETIFF.request()).isEqualTo(0x800454d2L);
    }

    @Test
    void aNameTooLongIsRefusedBeforeTheKernelSeesIt() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> TapBackend.open("a-name-of-16-bytes", runtime, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("longer than 15");
    }

    @Test
    void aDeviceBridgedToTheTapSendsIntoTheHostAndReceivesWhatTheHostSends() throws Exception {
        String name = name();
        SimulatedKernel kernel = new SimulatedKernel();
        try (TapBackend tap = TapBackend.open(name, runtime, false);
                VirtioNetDevice device = VirtioNetDevice.start(NetOptions.of("nettap"), tap, kernel);
                GuestNic nic = new GuestNic(kernel, "nettap", SimulatedDriver.Options.defaults().withQueueSize(64))) {
            up(name);
            GuestNic.await(device::linkUp);
            nic.postReceiveBuffers(32, 2048);
            // The host may send at once on a link that came up, into buffers as they arrive.
            GuestNic.await(() -> device.heldReceiveBuffers() == 32 || device.counters().get(Counter.RX_FRAMES) > 0);
            long before = statistic(name, "rx_packets");
            byte[] frame = Frames.frame(MacAddress.parse("02:00:00:00:00:09"), device.options().mac(), 60, 1);

            nic.send(frame);
            nic.send(GuestNic.header(VirtioNet.HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 6),
                    Frames.partial(Frames.udpFrame(MacAddress.parse("02:00:00:00:00:09"), device.options().mac(), 64)));

            assertThat(device.counters().get(Counter.TX_FRAMES)).isEqualTo(2);
            GuestNic.await(() -> {
                try {
                    return statistic(name, "rx_packets") >= before + 2;
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });

            // The host sends on a link that came up (IPv6 neighbour and multicast listener
            // messages); those frames reach the driver's buffers from the TAP's MAC.
            Path noIpv6 = Path.of("/proc/sys/net/ipv6/conf", name, "disable_ipv6");
            assumeThat(Files.exists(noIpv6) && Files.readString(noIpv6).strip().equals("0"))
                    .as("IPv6 on the TAP, so that the host sends something").isTrue();
            List<Received> got = nic.awaitReceived(1);
            byte[] hostMac = MacAddress.parse(Files.readString(sys(name, "address")).strip()).bytes();
            assertThat(java.util.Arrays.copyOfRange(got.get(0).frame(), 6, 12)).isEqualTo(hostMac);
            assertThat(device.counters().get(Counter.RX_FRAMES)).isPositive();
        }
    }
}
