package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.abort;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real VM on our vduse-blk through vhost-vdpa ({@code vdpa-vm-check.sh}): inside the guest,
 * trixie's {@code qemu-system-x86_64} boots the guest's own kernel with our device as its
 * {@code virtio-blk-pci} disk ({@code -blockdev driver=virtio-blk-vhost-vdpa}); the VM's Linux
 * writes a 4 MiB pattern to {@code /dev/vda}, reads it back, and after it is off the backing
 * file holds the pattern.
 *
 * <p>Opt-in with {@code -D}{@value #VM}{@code =true}: TCG inside TCG took 400 to 560 s for the
 * VM alone (520 to 730 s for the guest run) on a 2-core machine shared with other guests, past
 * the default {@value GuestVm#TIMEOUT} of 600 s; give it {@code -Dvduse.it.timeout=1200}. Also
 * needs the trixie root, like {@link VdpaBlkTest}.
 */
class VdpaVmTest {

    /** System property: {@code true} runs this class. */
    static final String VM = "vduse.it.vm";

    private static BlkGuestRun run;

    @BeforeEach
    void runTheVmOnce() {
        if (!Boolean.getBoolean(VM)) {
            abort("a VM inside the guest takes 9 to 12 minutes under TCG: run with -D" + VM
                    + "=true -D" + GuestVm.TIMEOUT + "=1200");
        }
        GuestVm vm = GuestVm.acquire();
        synchronized (VdpaVmTest.class) {
            Path root = TrixieRoot.acquire();
            if (run == null) {
                // The VM's own bound, inside the guest run's: what is left after boot and the device's start.
                long vmTimeout = Math.max(120, Long.getLong(GuestVm.TIMEOUT, 600) - 150);
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
