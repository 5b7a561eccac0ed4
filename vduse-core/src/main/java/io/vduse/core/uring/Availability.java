package io.vduse.core.uring;

import io.vduse.core.Errno;
import java.util.Objects;

/**
 * Whether io_uring can be used here, and if not, why: {@link IoUring#availability()}.
 *
 * @param available true if a ring can be set up and runs every opcode {@link IoUring} prepares
 * @param reason one line for a log, e.g. {@code io_uring_setup: ENOSYS, the kernel has no io_uring}
 *     or {@code io_uring_setup: EPERM: kernel.io_uring_disabled is 2 (...)}; when available, what
 *     the kernel offers
 */
public record Availability(boolean available, String reason) {

    /** Checks that there is a reason. */
    public Availability {
        Objects.requireNonNull(reason, "reason");
    }

    /**
     * Why {@code io_uring_setup} failed with {@code errno}, in terms a reader of a log can act on.
     *
     * @param ioUringDisabled the contents of {@code /proc/sys/kernel/io_uring_disabled} (Linux 6.6
     *     on; trimmed), or null where there is no such file: it tells an administrator's
     *     {@code EPERM} from a seccomp filter's
     */
    static Availability setupFailed(int errno, String ioUringDisabled) {
        String name = Errno.name(errno);
        return new Availability(false, switch (errno) {
            case Errno.ENOSYS -> "io_uring_setup: ENOSYS, the kernel has no io_uring"
                    + " (built without CONFIG_IO_URING, older than 5.1, or hidden by a seccomp filter)";
            case Errno.EPERM -> "io_uring_setup: EPERM: " + whyNotPermitted(ioUringDisabled);
            case Errno.ENOMEM -> "io_uring_setup: ENOMEM, no memory for a ring"
                    + " (kernels before 5.12 charge rings to RLIMIT_MEMLOCK: raise it, e.g. ulimit -l)";
            default -> "io_uring_setup: " + name + " (" + errno + ") " + Errno.description(errno);
        });
    }

    /** The kernel has io_uring but not {@code opcode} (one of those {@link IoUring} prepares). */
    static Availability missingOpcode(int opcode) {
        return new Availability(false, "IORING_REGISTER_PROBE: the kernel does not support "
                + Sqe.opcodeName(opcode) + " (" + opcode + ")");
    }

    private static String whyNotPermitted(String ioUringDisabled) {
        if (ioUringDisabled == null) {
            return "refused by a seccomp filter or a security module (the kernel has no kernel.io_uring_disabled"
                    + " sysctl, so it is not that; container runtimes' default seccomp profiles refuse io_uring)";
        }
        return switch (ioUringDisabled) {
            case "2" -> "kernel.io_uring_disabled is 2 (io_uring is off for every process)";
            case "1" -> "kernel.io_uring_disabled is 1 (only CAP_SYS_ADMIN and members of"
                    + " kernel.io_uring_group may set up rings)";
            default -> "refused by a seccomp filter or a security module (kernel.io_uring_disabled is "
                    + ioUringDisabled + "; container runtimes' default seccomp profiles refuse io_uring)";
        };
    }
}
