package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.it.guest.NotifyListener;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * vduse-blk as a service, in one guest boot ({@code blk-service-checks.sh}): {@code --attach}
 * puts the device on the vDPA bus itself once it is ready, with no {@code vdpa} command and no
 * retry, and takes it off at SIGTERM; readiness reaches a notify socket after the node exists,
 * and {@code --pidfile} holds the tool's pid; {@code --attach vhost} gives a vhost-vdpa node; a
 * refused attach exits 1 and leaves no device.
 */
@Order(3) // where it starts: see vduse.it.parallel in the pom
class BlkServiceTest {

    private static BlkGuestRun run;

    /** Boots the guest for the first test only (per test, so that a skip is reported per test). */
    @BeforeEach
    void runTheChecksOnce() {
        GuestVm vm = GuestVm.acquire();
        synchronized (BlkServiceTest.class) {
            if (run == null) {
                List<String> listener = new ArrayList<>(GuestVm.javaCommand());
                listener.add(NotifyListener.class.getName());
                run = BlkGuestRun.run(vm, "blk-service-checks.sh", "NOTIFY_LISTENER=" + String.join(" ", listener));
                System.out.printf("blk-service-checks ran in %s (%s), %d checks; --attach ready after %s ms%n",
                        run.result.elapsed(), run.result.where(), run.checks.size(), run.check("att_ready_millis"));
            }
        }
        assertThat(run.result.exitStatus()).as("the guest run failed:%n%s", run.result.describe()).isNotIn(124, 125);
    }

    private static void expect(String name, String value) {
        assertThat(run.check(name)).as("CHECK %s in:%n%s", name, run.result.describe()).isEqualTo(value);
    }

    @Test
    void attachBringsUpTheDiskByItselfAndAPatternReadsBack() {
        expect("att_ready", "0");
        expect("att_ready_line", "att0 attached to virtio_vdpa as /dev/vda");
        expect("att_blockdev", "present");
        expect("att_driver", "virtio_vdpa");
        expect("att_write_rc", "0");
        expect("att_read_rc", "0");
        expect("att_readback", "equal");
        expect("vdpa_invoked", "no");
    }

    @Test
    void sigtermTakesTheDeviceOffTheBusAndDestroysIt() {
        expect("att_stop_rc", "143"); // the JVM's status after SIGTERM, its shutdown hook done (as in VdpaVmTest)
        expect("att_vdpa_after_stop", "absent");
        expect("att_vduse_after_stop", "absent");
        expect("att_blockdev_after_stop", "absent");
        expect("att_pidfile_after_stop", "absent");
    }

    @Test
    void theNotifySocketHearsReadyAfterTheNodeExistsAndThePidfileHoldsThePid() {
        expect("listener_bound", "1");
        expect("notify_node_at_ready", "present");
        expect("notify_mainpid", run.check("att_pid"));
        expect("notify_status", "Serving att0 attached to virtio_vdpa as /dev/vda");
        expect("att_pidfile", "pid");
        expect("notify_stopping", "1");
    }

    @Test
    void attachVhostGivesAVhostVdpaNode() {
        expect("vhost_module", "0");
        expect("vh_ready", "0");
        assertThat(run.check("vh_ready_line")).as(run.result.describe())
                .matches("vh0 attached to vhost_vdpa as /dev/vhost-vdpa-\\d+");
        expect("vh_node", "chardev");
        expect("vh_driver", "vhost_vdpa");
        expect("vh_blockdev", "absent");
        expect("vh_stop_rc", "143");
        expect("vh_vdpa_after_stop", "absent");
        expect("vh_node_after_stop", "absent");
    }

    @Test
    void aRefusedAttachExitsOneNamingItAndLeavesNoDevice() {
        expect("ref_rc", "1");
        expect("ref_message", "1");
        expect("ref_destroyed", "1");
        expect("ref_left_behind", "no");
        assertThat(run.result.lines()).contains("SERVICE_CHECKS_DONE");
    }
}
