package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * {@code vduse-blk --reconnect} under the real kernel ({@code blk-reconnect-checks.sh}, its own
 * guest boot): fio random writes with crc32c verification, the device process killed with
 * SIGKILL mid-run and started again with {@code --reconnect}; fio must finish and verify.
 */
@Order(4) // the longest first: see vduse.it.parallel in the pom
class BlkReconnectTest {

    /*
     * The tool offers packed rings by default, and Linux's virtio_ring takes them: the restarted
     * process resumes the ring from the queue's in-flight log (in the guest's /run/vduse-java),
     * serving again the writes the killed one had taken and not returned, so fio finishes and
     * every block verifies.
     */
    @Test
    void fioSurvivesAKilledAndReconnectedDevice() {
        GuestVm vm = GuestVm.acquire();
        BlkGuestRun run = BlkGuestRun.run(vm, "blk-reconnect-checks.sh");
        System.out.printf("blk-reconnect-checks ran in %s (%s)%n", run.result.elapsed(), run.result.where());
        String all = run.result.describe();
        assertThat(run.check("attached")).as(all).isEqualTo("true");
        assertThat(Long.parseLong(run.check("writes_before_kill"))).as(all).isGreaterThan(500);
        assertThat(run.check("restarted")).as(all).isEqualTo("true");
        assertThat(run.check("fio_finished")).as(all).isEqualTo("true");
        assertThat(run.check("fio_rc")).as(all).isEqualTo("0");
        assertThat(run.check("verify_failures")).as(all).isEqualTo("0");
        assertThat(run.result.lines()).as(all).contains("BLK_RECONNECT_DONE");
    }
}
