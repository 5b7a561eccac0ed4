package io.vduse.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The block checklist through vhost-vdpa, the attachment a VM uses, in one guest boot
 * ({@code vdpa-blk-checks.sh}): the device is bound to {@code vhost_vdpa} instead of the
 * kernel's own virtio driver, and libblkio's {@code virtio-blk-vhost-vdpa} driver (QEMU 10's
 * {@code qemu-io} and {@code qemu-img}, from the trixie root of {@code make-trixie-root}) drives
 * it from userspace through {@code /dev/vhost-vdpa-N}. Every check runs against our vduse-blk
 * ({@code ours}) and against qemu-storage-daemon's vduse-blk export ({@code qsd}), the control:
 * a failure names the check and the device.
 *
 * <p>Skipped, with the reason, when there is no trixie root and {@value GuestVm#REQUIRED} is
 * false (building one downloads about 500 MiB as root); with it true the root is built on demand
 * and a failure to build it fails the tests.
 */
@Order(5) // where it starts: see vduse.it.parallel in the pom
class VdpaBlkTest {

    private static final String OURS = "ours";
    private static final String QSD = "qsd";
    private static final long MIB = 1 << 20;

    private static BlkGuestRun run;

    /** Boots the guest for the first test only (per test, so that a skip is reported per test). */
    @BeforeEach
    void runTheChecksOnce() {
        GuestVm vm = GuestVm.acquire();
        synchronized (VdpaBlkTest.class) {
            Path root = TrixieRoot.acquire();
            if (run == null) {
                run = BlkGuestRun.run(vm, "vdpa-blk-checks.sh", "TRIXIE_ROOT=" + root);
                System.out.printf("vdpa-blk-checks ran in %s (%s), %d checks%n", run.result.elapsed(),
                        run.result.where(), run.checks.size());
            }
        }
        assertThat(run.result.exitStatus()).as("the guest run failed:%n%s", run.result.describe()).isNotIn(124, 125);
        assertThat(run.check("setup")).as("setting up vhost_vdpa and the trixie root:%n%s", run.result.describe())
                .isEqualTo("ok");
    }

    private static String check(String device, String name) {
        return run.check(device + "." + name);
    }

    private static void expect(String device, String name, String value) {
        String actual = check(device, name);
        assertThat(actual)
                .as(actual == null
                        ? "CHECK %s.%s is missing: the script did not get that far:%n%s".formatted(device, name,
                                run.result.describe())
                        : "CHECK %s.%s (the whole log is in the test's output)".formatted(device, name))
                .isEqualTo(value);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {OURS, QSD})
    void theDeviceBindsToVhostVdpa(String device) {
        expect(device, "started", "true");
        expect(device, "attached", "true");
        if (device.equals(OURS)) {
            // Its file is on ext4 over brd, so every check below reaches it through io_uring.
            assertThat(run.check("backing_fs_rc")).as("ext4 over brd for our backing file").isEqualTo("0");
            expect(OURS, "aio", "io_uring");
        }
    }

    static Stream<Arguments> oneRequestSizes() {
        return Stream.of(OURS, QSD).flatMap(device -> Stream.of("4k", "512k", "1m", "2m", "4m")
                .map(size -> Arguments.of(device, size)));
    }

    /** qemu-io writes a pattern of each size in one request and reads it back (a different pattern each). */
    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("oneRequestSizes")
    void aPatternWrittenInOneRequestReadsBackAndIsInTheBackingFile(String device, String size) {
        expect(device, "rw_" + size, "ok");
        expect(device, "backing_" + size, "ok");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {OURS, QSD})
    void sixteenMibThroughQemuImgConvertReadBackAndAreInTheBackingFile(String device) {
        expect(device, "rw_16m", "ok");
        expect(device, "backing_16m", "ok");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {OURS, QSD})
    void discardPunchesHolesInTheBackingFile(String device) {
        expect(device, "discard", "ok");
        long before = Long.parseLong(check(device, "allocated_before"));
        long after = Long.parseLong(check(device, "allocated_after_discard"));
        assertThat(before - after).as("%s: bytes freed in the backing file by an 8 MiB discard of data", device)
                .isGreaterThanOrEqualTo(8 * MIB);
        expect(device, "backing_discarded", "ok");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {OURS, QSD})
    void flushSucceeds(String device) {
        expect(device, "flush", "ok");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {OURS, QSD})
    void aNewOpenSeesTheGrownCapacity(String device) {
        expect(device, "resize", "ok");
    }

    /** The whole backing file equals what was written: nothing landed anywhere else. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {OURS, QSD})
    void theBackingFileHoldsExactlyWhatWasWritten(String device) {
        expect(device, "backing_all", "ok");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {OURS, QSD})
    void aReadOnlyDeviceRefusesWritesAndServesReads(String device) {
        expect(device, "ro_started", "true");
        expect(device, "ro_attached", "true");
        // libblkio refuses to open a VIRTIO_BLK_F_RO device for writing; either way qemu-io fails.
        assertThat(check(device, "ro_write")).as("%s: qemu-io write on the read-only device", device)
                .isNotNull().startsWith("exit ").doesNotStartWith("exit 0:");
        expect(device, "ro_read", "ok");
        expect(device, "ro_backing", "ok");
    }

    @Test
    void theChecksRanToTheEnd() {
        assertThat(run.result.lines()).as(run.result.describe()).contains("VDPA_CHECKS_DONE");
    }
}
