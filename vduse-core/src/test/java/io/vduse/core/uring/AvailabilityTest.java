package io.vduse.core.uring;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.core.Errno;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The availability probe here, and the reasons it gives where io_uring cannot be used. */
class AvailabilityTest {

    @Test
    void ioUringIsAvailableOnTheTestMachine() {
        // The build machine and the CI guests (6.12, 7.3) run kernels with io_uring enabled.
        Availability availability = IoUring.availability();
        System.out.println(availability.reason());
        assertThat(availability.available()).as(availability.reason()).isTrue();
        assertThat(availability.reason()).startsWith("io_uring: available");
        assertThat(IoUring.availability()).as("probed once").isSameAs(availability);
    }

    @Test
    void noIoUringInTheKernelSaysSo() {
        Availability availability = Availability.setupFailed(Errno.ENOSYS, null);
        assertThat(availability.available()).isFalse();
        assertThat(availability.reason()).startsWith("io_uring_setup: ENOSYS, the kernel has no io_uring");
    }

    @Test
    void epermNamesTheSysctlWhenItIsTheCause() {
        assertThat(Availability.setupFailed(Errno.EPERM, "2").reason())
                .startsWith("io_uring_setup: EPERM: kernel.io_uring_disabled is 2");
        assertThat(Availability.setupFailed(Errno.EPERM, "1").reason())
                .startsWith("io_uring_setup: EPERM: kernel.io_uring_disabled is 1")
                .contains("kernel.io_uring_group");
    }

    @Test
    void epermWithTheSysctlOffOrAbsentPointsAtSeccomp() {
        assertThat(Availability.setupFailed(Errno.EPERM, "0").reason())
                .startsWith("io_uring_setup: EPERM: refused by a seccomp filter")
                .contains("kernel.io_uring_disabled is 0");
        assertThat(Availability.setupFailed(Errno.EPERM, null).reason())
                .startsWith("io_uring_setup: EPERM: refused by a seccomp filter")
                .contains("no kernel.io_uring_disabled");
    }

    @Test
    void otherErrnosAreNamed() {
        assertThat(Availability.setupFailed(Errno.ENOMEM, null).reason())
                .startsWith("io_uring_setup: ENOMEM").contains("RLIMIT_MEMLOCK");
        assertThat(Availability.setupFailed(Errno.EINVAL, null).reason())
                .isEqualTo("io_uring_setup: EINVAL (22) Invalid argument");
    }

    @Test
    void aMissingOpcodeIsNamed() {
        assertThat(Availability.missingOpcode(Sqe.OP_FALLOCATE).reason())
                .isEqualTo("IORING_REGISTER_PROBE: the kernel does not support IORING_OP_FALLOCATE (17)");
    }

    @Test
    void theProbeIsReadAsTheKernelFillsItIn() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment probe = arena.allocate(Probe.SIZE, 8);
            // A kernel that knows opcodes 0 to 17 and supports all but 17.
            probe.set(ValueLayout.JAVA_BYTE, Probe.LAST_OP, (byte) 17);
            probe.set(ValueLayout.JAVA_BYTE, Probe.OPS_LEN, (byte) 18);
            for (int op = 0; op < 17; op++) {
                probe.set(ValueLayout.JAVA_SHORT, Probe.OPS + op * Probe.OP.byteSize() + Probe.OP_FLAGS,
                        Probe.OP_SUPPORTED);
            }
            assertThat(Probe.supports(probe, Sqe.OP_NOP)).isTrue();
            assertThat(Probe.supports(probe, Sqe.OP_READV)).isTrue();
            assertThat(Probe.supports(probe, Sqe.OP_FSYNC)).isTrue();
            assertThat(Probe.supports(probe, Sqe.OP_FALLOCATE)).isFalse();
            // Beyond what the kernel reported: unsupported whatever the memory holds.
            probe.set(ValueLayout.JAVA_SHORT, Probe.OPS + 20 * Probe.OP.byteSize() + Probe.OP_FLAGS,
                    Probe.OP_SUPPORTED);
            assertThat(Probe.supports(probe, 20)).isFalse();
        }
    }

    @Test
    void theLayoutsAreTheKernelsSizes() {
        assertThat(IoUringParams.LAYOUT.byteSize()).isEqualTo(120);
        assertThat(IoUringParams.SQ_OFF_ARRAY).isEqualTo(40 + 24);
        assertThat(IoUringParams.CQ_OFF_CQES).isEqualTo(80 + 20);
        assertThat(Sqe.SIZE).isEqualTo(64);
        assertThat(Sqe.USER_DATA).isEqualTo(32);
        assertThat(Sqe.ADDR3).isEqualTo(48);
        assertThat(Cqe.SIZE).isEqualTo(16);
        assertThat(Probe.OPS).isEqualTo(16);
        assertThat(Probe.OP.byteSize()).isEqualTo(8);
    }
}
