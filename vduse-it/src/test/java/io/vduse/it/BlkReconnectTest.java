package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * {@code vduse-blk --reconnect} under the real kernel ({@code blk-reconnect-checks.sh}, its own
 * guest boot): fio random writes with crc32c verification, the device process killed with
 * SIGKILL mid-run and started again with {@code --reconnect}; fio must finish and verify.
 */
class BlkReconnectTest {

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
