package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code vduse-blk --nbd} in front of real NBD servers under the real kernel's virtio-blk driver,
 * in one guest boot ({@code blk-nbd-checks.sh}): qemu-nbd over TCP, nbdkit's memory plugin over a
 * Unix socket under its log, error and delay filters, and a read-only qemu-nbd export over a Unix
 * socket. The block checklist on the writable ones (fio and ext4 on qemu-nbd's), an injected EIO,
 * latency with many requests on the wire, and the TCP server killed and started again in the
 * middle of fio's verify.
 *
 * <p>CI runs it on Linux 7.3 only (see the pom): the NBD client is ours, in userspace, and the
 * kernel's side of it is the virtio-blk path every other class runs on both series. On 6.12:
 * {@code surefire:test@linux-6.12 -Dtest=BlkNbdTest}.
 */
@Order(0) // where it starts: see vduse.it.parallel in the pom
class BlkNbdTest {

    private static final long MIB = 1L << 20;

    private static BlkGuestRun run;

    /** Boots the guest for the first test only (per test, so that a skip is reported per test). */
    @BeforeEach
    void runTheChecksOnce() {
        GuestVm vm = GuestVm.acquire();
        synchronized (BlkNbdTest.class) {
            if (run == null) {
                run = BlkGuestRun.run(vm, "blk-nbd-checks.sh");
                System.out.printf("blk-nbd-checks ran in %s (%s), %d checks%n", run.result.elapsed(),
                        run.result.where(), run.checks.size());
            }
        }
        assertThat(run.result.exitStatus()).as("the guest run failed:%n%s", run.result.describe()).isNotIn(124, 125);
    }

    private static String check(String name) {
        return run.check(name);
    }

    private static void expect(String name, String value) {
        assertThat(check(name)).as("CHECK %s in:%n%s", name, run.result.describe()).isEqualTo(value);
    }

    private static long number(String name) {
        String value = check(name);
        assertThat(value).as("CHECK %s in:%n%s", name, run.result.describe()).isNotNull().matches("-?[0-9]+");
        return Long.parseLong(value);
    }

    @Test
    void everyServerServesAndEveryDeviceAttaches() {
        for (String tag : new String[] {"tcp", "kit", "ro"}) {
            expect(tag + ".server_rc", "0");
            expect(tag + ".attached", "true");
        }
    }

    /* Nothing on the command line says how large or whether writable: the servers do. */
    @Test
    void sizeAndReadOnlyComeFromTheServer() {
        expect("tcp.size_bytes", Long.toString(32 * MIB));
        expect("kit.size_bytes", Long.toString(48 * MIB));
        expect("ro.size_bytes", Long.toString(8 * MIB));
        expect("tcp.ro_flag", "0");
        expect("kit.ro_flag", "0");
        expect("ro.ro_flag", "1");
        expect("tcp.mq_count", "1");
        expect("kit.mq_count", "2");
        // nbdkit's memory plugin says CAN_MULTI_CONN: a connection for each queue.
        expect("kit.connections", "2");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tcp", "kit"})
    void aPatternReadsBackAndIsOnTheServer(String tag) {
        expect(tag + ".dd_write_rc", "0");
        expect(tag + ".dd_read_rc", "0");
        expect(tag + ".pattern_readback", "equal");
        if (!tag.equals("kit")) {
            expect(tag + ".pattern_backing", "equal");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tcp", "kit"})
    void discardAndWriteZeroesReadBackZerosAndLeaveTheRest(String tag) {
        expect(tag + ".discard_max_bytes_positive", "1");
        expect(tag + ".write_zeroes_max_bytes_positive", "1");
        expect(tag + ".blkdiscard_rc", "0");
        expect(tag + ".zeroout_rc", "0");
        expect(tag + ".discard_zeroout_zeros", "true");
        expect(tag + ".rest_intact", "true");
        if (!tag.equals("kit")) {
            // qemu-nbd --discard=unmap punches the file: the MiB discarded is given back.
            assertThat(number(tag + ".discard_freed_bytes")).as(run.result.describe())
                    .isGreaterThanOrEqualTo(MIB);
        }
    }

    @Test
    void flushTrimAndWriteZeroesReachTheServer() {
        for (String tag : new String[] {"tcp", "kit"}) {
            expect(tag + ".write_cache", "write back");
            expect(tag + ".fsync_rc", "0");
        }
        // nbdkit's log filter counts what it was sent.
        assertThat(number("kit.flushes_seen")).as(run.result.describe()).isPositive();
        assertThat(number("kit.trims_seen")).as(run.result.describe()).isPositive();
        assertThat(number("kit.zeroes_seen")).as(run.result.describe()).isPositive();
    }

    @Test
    void fioVerifiesAndExt4SurvivesFsckAndARemount() {
        String tag = "tcp";
        expect(tag + ".fio_verify_rc", "0");
        expect(tag + ".mkfs_rc", "0");
        expect(tag + ".mount_rc", "0");
        expect(tag + ".files_written", "20");
        expect(tag + ".umount_rc", "0");
        expect(tag + ".fsck_rc", "0");
        expect(tag + ".remount_rc", "0");
        expect(tag + ".checksums_rc", "0");
    }

    /* nbdkit's error filter answers EIO while its trigger file exists; afterwards all is served. */
    @Test
    void anInjectedEioIsAnIoErrorAndTheDeviceServesOn() {
        expect("kit.block_write_rc", "0");
        assertThat(check("kit.eio_read_rc")).as(run.result.describe()).isNotNull().isNotEqualTo("0");
        assertThat(check("kit.eio_write_rc")).as(run.result.describe()).isNotNull().isNotEqualTo("0");
        expect("kit.eio_read_error", "eio");
        expect("kit.eio_write_error", "eio");
        assertThat(number("kit.server_eio_replies")).as(run.result.describe()).isGreaterThanOrEqualTo(2);
        expect("kit.alive_after_eio", "true");
        expect("kit.after_eio_read_rc", "0");
        expect("kit.after_eio_readback", "equal");
        expect("kit.after_eio_write_rc", "0");
    }

    /*
     * Each read takes the delay filter's 5 ms at least. At QD16 the device keeps many reads on the
     * wire at once: nbdkit's log shows several begun and not yet answered at one time. (Under
     * emulation the guest's CPU, not the delay, bounds the IOPS, so they are only reported.)
     */
    @Test
    void readsOfASlowServerOverlapOnTheWire() {
        assertThat(number("kit.qd1_lat_us")).as(run.result.describe()).isGreaterThanOrEqualTo(5000);
        assertThat(number("kit.qd1_server_overlap")).as(run.result.describe()).isEqualTo(1);
        assertThat(number("kit.qd16_server_overlap")).as(run.result.describe()).isGreaterThanOrEqualTo(4);
        System.out.printf("nbdkit with 5 ms reads: QD1 %s IOPS (%s us), QD16 %s IOPS (%s us), up to %s reads at the server at once%n",
                check("kit.qd1_iops"), check("kit.qd1_lat_us"), check("kit.qd16_iops"), check("kit.qd16_lat_us"),
                check("kit.qd16_server_overlap"));
    }

    @Test
    void aReadOnlyExportServesItsBytesAndRefusesWrites() {
        expect("ro.read_rc", "0");
        expect("ro.readback", "equal");
        assertThat(check("ro.write_rc")).as(run.result.describe()).isNotNull().isNotEqualTo("0");
        expect("ro.file_unchanged", "true");
    }

    /* Killed with SIGKILL, qemu-nbd loses nothing it acknowledged (its file is in tmpfs); the device
       sends again what was in flight once it is back. */
    @Test
    void fioVerifiesAcrossAServerKilledAndStartedAgain() {
        assertThat(number("tcp.writes_before_kill")).as(run.result.describe()).isGreaterThan(150);
        expect("tcp.server_killed", "0");
        expect("tcp.server_restarted_rc", "0");
        expect("tcp.fio_finished", "true");
        expect("tcp.fio_rc", "0");
        expect("tcp.verify_failures", "0");
        assertThat(number("tcp.reconnected")).as("the device's log says it reconnected:%n%s", run.result.describe())
                .isPositive();
    }

    @Test
    void everyDeviceStopsCleanly() {
        for (String tag : new String[] {"tcp", "kit", "ro"}) {
            expect(tag + ".detached", "0");
            expect(tag + ".stop_rc", "143"); // SIGTERM's exit status, as for a file's device
            expect(tag + ".destroyed", "true");
        }
        assertThat(run.result.lines()).contains("BLK_NBD_DONE");
    }
}
