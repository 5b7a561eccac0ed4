package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * {@code vduse-blk --reconnect} under the real kernel ({@code blk-reconnect-checks.sh}, its own
 * guest boot), once per ring layout: fio random writes with crc32c verification, the device
 * process killed with SIGKILL mid-run and started again with {@code --reconnect}; fio must finish
 * and verify.
 */
@Order(1) // where it starts: see vduse.it.parallel in the pom
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BlkReconnectTest {

    private static BlkGuestRun run;

    /** The one guest run of the class, shared by its tests. */
    private static synchronized BlkGuestRun run() {
        if (run == null) {
            GuestVm vm = GuestVm.acquire();
            run = BlkGuestRun.run(vm, "blk-reconnect-checks.sh");
            System.out.printf("blk-reconnect-checks ran in %s (%s)%n", run.result.elapsed(), run.result.where());
        }
        return run;
    }

    /*
     * The tool offers packed rings by default, and Linux's virtio_ring takes them: the restarted
     * process resumes the ring from the queue's in-flight log (in the guest's /run/vduse-java),
     * serving again the writes the killed one had taken and not returned, so fio finishes and
     * every block verifies. Packed rings have no used index in memory: without the log this
     * could not resume at all.
     */
    @Test
    @Order(1)
    void fioSurvivesAKilledAndReconnectedDeviceOnPackedRings() {
        expectRoundPassed("packed", "packed");
    }

    /* With --no-packed-ring the same over split rings, resumed from the log too. */
    @Test
    @Order(2)
    void fioSurvivesAKilledAndReconnectedDeviceOnSplitRings() {
        expectRoundPassed("split", "split");
        assertThat(run().result.lines()).as(run().result.describe()).contains("BLK_RECONNECT_DONE");
    }

    private static void expectRoundPassed(String layout, String ring) {
        BlkGuestRun r = run();
        String all = r.result.describe();
        assertThat(r.check(layout + ".attached")).as(all).isEqualTo("true");
        assertThat(r.check(layout + ".ring")).as(all).isEqualTo(ring);
        assertThat(Long.parseLong(r.check(layout + ".writes_before_kill"))).as(all).isGreaterThan(500);
        assertThat(r.check(layout + ".restarted")).as(all).isEqualTo("true");
        assertThat(r.check(layout + ".fio_finished")).as(all).isEqualTo("true");
        assertThat(r.check(layout + ".fio_rc")).as(all).isEqualTo("0");
        assertThat(r.check(layout + ".verify_failures")).as(all).isEqualTo("0");
    }
}
