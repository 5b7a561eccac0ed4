package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * vduse-net against the real kernel, in one guest boot ({@code net-device-checks.sh}), one
 * vduse-net process per backend: with {@code --tap} the device is a netdev under virtio_net that,
 * in a network namespace, pings the TAP's address in the root namespace and passes 64 MiB over
 * TCP each way (out at MTU 1500, in at 9000) with the checksum equal; the TAP set down and up on
 * the host is seen as the carrier in the namespace's {@code ip link}; the tool killed with
 * SIGKILL in the middle of another 64 MiB and started again with {@code --reconnect} takes the
 * device and its TAP over, the interface keeps its name, and the transfer completes with the
 * checksum equal (TCP retransmits); SIGUSR1 prints the counters. With {@code --peer}, two
 * namespaces on the two devices ping each other and pass the same 64 MiB.
 *
 * <p>Its guest run is bounded by at least {@value #TIMEOUT_SECONDS} s (or {@value GuestVm#TIMEOUT}
 * if longer): the reconnect adds a JVM start and TCP's backed-off retransmit to the run.
 */
@Order(4) // where it starts: see vduse.it.parallel in the pom
class NetDeviceTest {

    /** System property: the vduse-net launcher script (set by the module's pom). */
    static final String LAUNCHER = "vduse.it.net.launcher";

    /** The least bound of the guest run, seconds (runs without the reconnect took 391 to 746 s). */
    static final long TIMEOUT_SECONDS = 1500;

    private static BlkGuestRun run;

    /** Boots the guest for the first test only (per test, so that a skip is reported per test). */
    @BeforeEach
    void runTheChecksOnce() {
        GuestVm vm = GuestVm.acquire();
        vm = vm.withTimeout(Math.max(TIMEOUT_SECONDS, Long.getLong(GuestVm.TIMEOUT, 900)));
        synchronized (NetDeviceTest.class) {
            if (run == null) {
                String launcher = Path.of(System.getProperty(LAUNCHER, "../vduse-net/bin/vduse-net"))
                        .toAbsolutePath().normalize().toString();
                // The same quick-start JVM options as vduse-blk's guest runs.
                run = BlkGuestRun.runScript(vm, "net-device-checks.sh",
                        List.of("NET=" + launcher, "VDUSE_NET_JAVA_OPTS=" + BlkAotCache.JAVA_OPTS));
                String steps = run.result.lines().stream().filter(line -> line.startsWith("STEP "))
                        .map(line -> line.substring(5).replace(' ', '=') + " ms").collect(Collectors.joining(", "));
                System.out.printf("net-device-checks ran in %s (%s), %d checks; steps: %s%n", run.result.elapsed(),
                        run.result.where(), run.checks.size(), steps);
            }
        }
        assertThat(run.result.exitStatus()).as("the guest run failed:%n%s", run.result.describe()).isNotIn(124, 125);
    }

    private static void expect(String name, String value) {
        assertThat(run.check(name)).as("CHECK %s in:%n%s", name, run.result.describe()).isEqualTo(value);
    }

    @Test
    void theTapDeviceIsANetdevUnderVirtioNetThatPingsTheTapFromANamespace() {
        expect("modules_rc", "0");
        expect("tap_ready", "0");
        expect("tap_attach_rc", "0");
        expect("tap_netdev", "present");
        expect("tap_driver", "virtio_net");
        expect("tap_mtu_offered", "9000");
        // The TAP is made down, and the device's link follows it until it is set up.
        expect("tap_carrier_before_tap_up", "down");
        expect("tap_carrier_after_tap_up", "up");
        expect("tap_ping_rc", "0");
    }

    @Test
    void sixtyFourMebibytesPassEachWayWithTheChecksumEqualAtMtu1500And9000() {
        expect("tap_tx_rc", "0");
        expect("tap_tx_sum", "equal");
        expect("tap_mtu_9000", "9000,9000");
        expect("tap_ping_8000_rc", "0");
        expect("tap_rx_rc", "0");
        expect("tap_rx_sum", "equal");
    }

    @Test
    void theTapSetDownAndUpOnTheHostIsTheCarrierInTheNamespace() {
        expect("tap_link_down", "down");
        expect("tap_link_up", "up");
        expect("tap_ping_after_link_rc", "0");
    }

    @Test
    void aTransferSurvivesTheToolKilledAndRestartedWithReconnectAndTheInterfaceKeepsItsName() {
        // Killed mid-transfer: something had arrived, far from all.
        long atKill = Long.parseLong(run.check("recon_bytes_at_kill"));
        assertThat(atKill).as(run.result.describe()).isGreaterThan(0).isLessThan(64L << 20);
        expect("recon_sender_alive", "yes");
        // The kernel kept the device, and the TAP (persistent while the tool held it) its address.
        expect("recon_tap_kept", "10.77.0.1/24,1");
        expect("recon_device_kept", "present");
        expect("recon_ready", "0");
        expect("recon_took_over", "1");
        expect("recon_same_netdev", "same");
        expect("recon_tx_rc", "0");
        expect("recon_tx_sum", "equal");
        expect("recon_ping_rc", "0");
    }

    @Test
    void sigusr1PrintsTheCountersAndSigtermDestroysTheDeviceAndTheTap() {
        expect("tap_usr1", "0");
        assertThat(run.check("tap_usr1_line")).as(run.result.describe()).startsWith("vduse-net: vnet0: ");
        expect("tap_detach_rc", "0");
        expect("tap_stop_rc", "143"); // the JVM's status after SIGTERM, its shutdown hook done
        expect("tap_stopped", "1");
        expect("tap_gone", "absent");
    }

    @Test
    void twoNamespacesOnTheCablePingEachOtherAndPassTheSameTransfer() {
        expect("cable_ready", "0");
        expect("cable_attach_rc", "0");
        expect("cable_netdevs", "ab");
        expect("cable_carrier", "up,up");
        expect("cable_ping_ab_rc", "0");
        expect("cable_ping_ba_rc", "0");
        expect("cable_tx_rc", "0");
        expect("cable_tx_sum", "equal");
        expect("cable_stop_rc", "143");
        expect("kernel_warnings", "0");
        assertThat(run.result.lines()).contains("NET_CHECKS_DONE");
    }
}
