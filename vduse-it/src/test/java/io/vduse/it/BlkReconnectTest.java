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
     * The restarted process resumes each split ring at the used index the ring holds (the killed
     * one completed in order), so the writes it left in flight are served again and fio
     * finishes. A packed ring could not be resumed, hence the tool offers packed rings only with
     * --packed-ring, which this check does not use.
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
