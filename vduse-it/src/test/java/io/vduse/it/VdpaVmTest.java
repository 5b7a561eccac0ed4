package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.abort;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * A real VM on two of our vduse-blk devices through vhost-vdpa ({@code vdpa-vm-check.sh}): inside
 * the guest, trixie's {@code qemu-system-x86_64} boots a Debian kernel with one device as a
 * {@code virtio-blk-pci} disk over libblkio ({@code -blockdev driver=virtio-blk-vhost-vdpa}) and
 * the other passed through as it is ({@code -device vhost-vdpa-device-pci}). The VM's Linux runs
 * a loop that writes, reads back and compares data on both disks; meanwhile the script hot-plugs
 * memory (QEMU re-maps the VM's memory for each device: {@code VDUSE_UPDATE_IOTLB}) and stops and
 * continues the VM (QEMU suspends the passed-through device: {@code VDUSE_SUSPEND} on Linux 7.3,
 * then resets it and sets it up again from the ring bases it read). After the VM is off, each
 * backing file holds what was written to it. The devices' message counts come from vduse-blk's
 * {@code control messages:} line (SIGUSR1, and at exit).
 *
 * <p>TCG inside TCG makes this the longest class (855 s on a 2-core machine, the VM 730 s of it),
 * so it runs on one kernel series only: {@code -D}{@value #VM} names the series ({@code 7.3} by
 * default, where {@code VDUSE_F_SUSPEND} exists; {@code 6.12} or {@code none}), and on the other
 * it skips itself. It starts first, on one of the series' two lanes, while the other lane runs the
 * remaining classes (a guest is one host thread of TCG, so the two do not compete for a core).
 * Its guest run is bounded by {@code -D}{@value #VM_TIMEOUT} (2100 s by default) instead of
 * {@value GuestVm#TIMEOUT}. Also needs the trixie root, like {@link VdpaBlkTest}.
 */
@Order(-1) // first, on a lane of its own for most of the series: see vduse.it.parallel in the pom
class VdpaVmTest {

    /** System property: the kernel series to run this class on, or {@code none}. */
    static final String VM = "vduse.it.vm";
    /** System property: the bound of this class's guest run, in seconds. */
    static final String VM_TIMEOUT = "vduse.it.vm.timeout";
    /** The two disks of the VM, by their names in the script's checks. */
    private static final String BLKIO = "blkio";
    private static final String GENERIC = "generic";

    private static BlkGuestRun run;

    @BeforeEach
    void runTheVmOnce() {
        String series = System.getProperty(VM, "none");
        String kernel = GuestVm.requestedKernel();
        if (series.equals("none") || !series.equals(kernel)) {
            abort("a VM inside the guest takes 10 to 15 minutes under TCG; it runs on one series only, Linux "
                    + series + " (-D" + VM + "=6.12, 7.3 or none), not here on " + kernel);
        }
        long timeout = Long.getLong(VM_TIMEOUT, 2100);
        GuestVm vm = GuestVm.acquire().withTimeout(timeout);
        synchronized (VdpaVmTest.class) {
            Path root = TrixieRoot.acquire();
            if (run == null) {
                // The VM's own bound, inside the guest run's: what is left after boot and the devices' start.
                long vmTimeout = Math.max(120, timeout - 300);
                run = BlkGuestRun.run(vm, "vdpa-vm-check.sh", "TRIXIE_ROOT=" + root, "VM_TIMEOUT=" + vmTimeout);
                System.out.printf("vdpa-vm-check ran in %s (%s), the VM in %s s, %s rounds; UPDATE_IOTLB at the "
                                + "hot-plug: blkio %s -> %s, generic %s -> %s; SUSPEND at the stop: blkio %s, generic %s%n",
                        run.result.elapsed(), run.result.where(), run.check("vm.seconds"), run.check("vm.rounds"),
                        run.check("vm.blkio.UPDATE_IOTLB_before_hotplug"), run.check("vm.blkio.UPDATE_IOTLB_after_hotplug"),
                        run.check("vm.generic.UPDATE_IOTLB_before_hotplug"),
                        run.check("vm.generic.UPDATE_IOTLB_after_hotplug"), run.check("vm.blkio.SUSPEND_stopped"),
                        run.check("vm.generic.SUSPEND_stopped"));
            }
        }
        assertThat(run.result.exitStatus()).as("the guest run failed:%n%s", run.result.describe()).isNotIn(124, 125);
    }

    private static String check(String name) {
        return run.check("vm." + name);
    }

    private static void expect(String name, String value) {
        assertThat(check(name)).as("CHECK vm.%s in:%n%s", name, run.result.describe()).isEqualTo(value);
    }

    private static long count(String name) {
        String value = check(name);
        assertThat(value).as("CHECK vm.%s in:%n%s", name, run.result.describe()).matches("[0-9]+");
        return Long.parseLong(value);
    }

    @Test
    void theVmBootsWithBothDevicesAsItsDisks() {
        expect("setup", "ok");
        expect("started", "true");
        expect("attached", "true");
        expect("qemu_rc", "0");
        expect("userspace", "true");
        expect("insmod", "0");
        // Told apart by serial: QEMU's for the blkio disk, our device's GET_ID for the passed-through one.
        assertThat(check("blkio_disk")).as("the VM's disk with serial vm-blkio").startsWith("/dev/vd");
        assertThat(check("generic_disk")).as("the VM's disk with serial vm-generic").startsWith("/dev/vd");
        // The passed-through disk's capacity is our config space as it is; QEMU's virtio-blk-pci
        // has its own, from libblkio's capacity.
        expect("blkio_sectors", Long.toString((64L << 20) / 512));
        expect("generic_sectors", Long.toString((64L << 20) / 512));
    }

    @Test
    void everyRoundOnBothDisksReadsBackAndTheBackingFilesHoldIt() {
        expect("readback", "equal");
        expect("done", "true");
        // Two rounds at least after each of the two events, and one before the first.
        assertThat(count("rounds")).isGreaterThanOrEqualTo(5);
        for (String disk : new String[] {BLKIO, GENERIC}) {
            expect(disk + ".backing", "equal");
            // SIGTERM, once the shutdown hook destroyed the device: a JVM ended so exits 128 + 15.
            expect(disk + ".stop_rc", "143");
        }
        assertThat(run.result.lines()).contains("VDPA_VM_DONE");
    }

    @Test
    void memoryHotPluggedUnderIoIsMappedForBothDevices() {
        expect("events_done", "true");
        expect("hotplug", "ok");
        expect("rounds_after_hotplug", "ok");
        // The VM's Linux put the new 128 MiB online.
        assertThat(count("memtotal_kb_after") - count("memtotal_kb_before")).isGreaterThanOrEqualTo(120 << 10);
        // QEMU's vhost-vdpa memory listener (generic) and libblkio's memory regions (blkio) map the
        // new memory; VDUSE's set_map tells the device with an UPDATE_IOTLB of the whole range.
        for (String disk : new String[] {BLKIO, GENERIC}) {
            assertThat(count(disk + ".UPDATE_IOTLB_after_hotplug"))
                    .as("%s: UPDATE_IOTLB after the hot-plug, against before", disk)
                    .isGreaterThan(count(disk + ".UPDATE_IOTLB_before_hotplug"));
        }
    }

    @Test
    void aStopAndContUnderIoSuspendsThePassedThroughDeviceWhichServesOnAfterwards() {
        expect("events_done", "true");
        expect("stop", "ok");
        expect("status_stopped", "paused");
        expect("rounds_while_stopped", "0");
        expect("cont", "ok");
        expect("rounds_after_cont", "ok");
        // Only vhost-vdpa-device-pci stops its device with the VM; libblkio keeps its own running.
        expect(BLKIO + ".SUSPEND_exit", "0");
        if (GuestVm.requestedKernel().equals("6.12")) {
            // No VDUSE_F_SUSPEND on 6.12: vhost-vdpa offers QEMU no suspend, and QEMU resets the device.
            expect(GENERIC + ".SUSPEND_stopped", "0");
        } else {
            expect(GENERIC + ".SUSPEND_stopped", "1");
            // QEMU's exit stops a device still started once more (seen: a VM killed before its
            // driver ran still got one SUSPEND at QEMU's exit), so the count at exit can be 2.
            assertThat(count(GENERIC + ".SUSPEND_exit")).isBetween(1L, 2L);
        }
    }
}
