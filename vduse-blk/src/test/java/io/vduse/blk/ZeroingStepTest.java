package io.vduse.blk;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.core.Errno;
import io.vduse.core.internal.linux.Syscalls;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.Test;

/** The fallocate ladder of discard and write-zeroes, on file systems that support more or less of it. */
class ZeroingStepTest {

    private static final int PUNCH = Syscalls.FALLOC_FL_PUNCH_HOLE | Syscalls.FALLOC_FL_KEEP_SIZE;
    private static final int ZERO = Syscalls.FALLOC_FL_ZERO_RANGE | Syscalls.FALLOC_FL_KEEP_SIZE;
    private static final int RESERVE = Syscalls.FALLOC_FL_KEEP_SIZE;

    /** The modes tried, then "WRITE", "DONE" or "FAIL", on a file system answering {@code answer(mode)}. */
    private static List<String> climb(ZeroingStep step, IntUnaryOperator answer) {
        List<String> seen = new ArrayList<>();
        while (step != null && step.isCall()) {
            seen.add(Integer.toHexString(step.mode()));
            step = step.next(answer.applyAsInt(step.mode()));
        }
        seen.add(step == null ? "FAIL" : step.name());
        return seen;
    }

    private static IntUnaryOperator supporting(int... modes) {
        return mode -> {
            for (int m : modes) {
                if (m == mode) {
                    return 0;
                }
            }
            return Errno.EOPNOTSUPP;
        };
    }

    private static String hex(int mode) {
        return Integer.toHexString(mode);
    }

    @Test
    void everythingSupported() {
        IntUnaryOperator all = supporting(PUNCH, ZERO, RESERVE);
        assertThat(climb(ZeroingStep.first(false, false), all)).containsExactly(hex(PUNCH), "DONE");
        assertThat(climb(ZeroingStep.first(true, true), all)).containsExactly(hex(PUNCH), "DONE");
        assertThat(climb(ZeroingStep.first(true, false), all)).containsExactly(hex(ZERO), "DONE");
    }

    @Test
    void tmpfsHasHolesButNoZeroRange() {
        IntUnaryOperator tmpfs = supporting(PUNCH, RESERVE);
        assertThat(climb(ZeroingStep.first(true, false), tmpfs))
                .containsExactly(hex(ZERO), hex(PUNCH), hex(RESERVE), "DONE");
        // The reservation after the hole is not needed to succeed.
        assertThat(climb(ZeroingStep.first(true, false), supporting(PUNCH)))
                .containsExactly(hex(ZERO), hex(PUNCH), hex(RESERVE), "DONE");
    }

    @Test
    void noFallocateAtAll() {
        IntUnaryOperator none = supporting();
        assertThat(climb(ZeroingStep.first(false, false), none)).as("a discard is a hint").containsExactly(hex(PUNCH), "DONE");
        assertThat(climb(ZeroingStep.first(true, true), none))
                .containsExactly(hex(PUNCH), hex(ZERO), hex(PUNCH), "WRITE");
        assertThat(climb(ZeroingStep.first(true, false), mode -> Errno.ENOSYS))
                .containsExactly(hex(ZERO), hex(PUNCH), "WRITE");
    }

    @Test
    void aRealErrorFailsTheRange() {
        assertThat(climb(ZeroingStep.first(true, false), mode -> Errno.EIO)).containsExactly(hex(ZERO), "FAIL");
        assertThat(climb(ZeroingStep.first(false, false), mode -> Errno.ENOSPC)).containsExactly(hex(PUNCH), "FAIL");
    }
}
