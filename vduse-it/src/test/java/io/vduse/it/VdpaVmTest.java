package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.abort;

import java.nio.file.Path;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real VM on our vduse-blk through vhost-vdpa ({@code vdpa-vm-check.sh}): inside the guest,
 * trixie's {@code qemu-system-x86_64} boots the guest's own kernel with our device as its
 * {@code virtio-blk-pci} disk ({@code -blockdev driver=virtio-blk-vhost-vdpa}); the VM's Linux
 * writes a 4 MiB pattern to {@code /dev/vda}, reads it back, and after it is off the backing
 * file holds the pattern.
 *
 * <p>TCG inside TCG took 400 to 560 s for the VM alone (520 to 730 s for the guest run) on a
 * 2-core machine, so it runs on one kernel series only: {@code -D}{@value #VM} names the series
 * ({@code 6.12} by default, {@code all}, or {@code none}), and its guest run is bounded by
 * {@code -D}{@value #VM_TIMEOUT} (1200 s by default) instead of {@value GuestVm#TIMEOUT}. Also
 * needs the trixie root, like {@link VdpaBlkTest}.
 */
@Order(1) // the longest first: see vduse.it.parallel in the pom
class VdpaVmTest {

    /** System property: the kernel series to run this class on, {@code all} or {@code none}. */
    static final String VM = "vduse.it.vm";
    /** System property: the bound of this class's guest run, in seconds. */
    static final String VM_TIMEOUT = "vduse.it.vm.timeout";

    private static BlkGuestRun run;

    @BeforeEach
    void runTheVmOnce() {
        String series = System.getProperty(VM, "6.12");
        String kernel = GuestVm.requestedKernel();
        if (!series.equals("all") && !java.util.Arrays.asList(series.split(",")).contains(kernel)) {
            abort("a VM inside the guest takes 9 to 12 minutes under TCG; it runs on Linux " + series
                    + ", not " + kernel + " (-D" + VM + "=" + kernel + " or all)");
        }
        long timeout = Long.getLong(VM_TIMEOUT, 1200);
        GuestVm vm = GuestVm.acquire().withTimeout(timeout);
        synchronized (VdpaVmTest.class) {
            Path root = TrixieRoot.acquire();
            if (run == null) {
                // The VM's own bound, inside the guest run's: what is left after boot and the device's start.
                long vmTimeout = Math.max(120, timeout - 150);
                run = BlkGuestRun.run(vm, "vdpa-vm-check.sh", "TRIXIE_ROOT=" + root, "VM_TIMEOUT=" + vmTimeout);
                System.out.printf("vdpa-vm-check ran in %s (%s), the VM in %s s%n", run.result.elapsed(),
                        run.result.where(), run.check("vm.seconds"));
            }
        }
        assertThat(run.result.exitStatus()).as("the guest run failed:%n%s", run.result.describe()).isNotIn(124, 125);
    }

    private static void expect(String name, String value) {
        assertThat(run.check("vm." + name)).as("CHECK vm.%s in:%n%s", name, run.result.describe()).isEqualTo(value);
    }

    @Test
    void theVmBootsWithOurDeviceAsItsDisk() {
        expect("setup", "ok");
        expect("started", "true");
        expect("attached", "true");
        expect("qemu_rc", "0");
        expect("userspace", "true");
        expect("insmod", "0");
        expect("vda_sectors", Long.toString((64L << 20) / 512));
    }

    @Test
    void aPatternWrittenInTheVmReadsBackAndIsInTheBackingFile() {
        expect("write_rc", "0");
        expect("read_rc", "0");
        expect("readback", "equal");
        expect("done", "true");
        expect("backing", "equal");
        assertThat(run.result.lines()).contains("VDPA_VM_DONE");
    }
}
