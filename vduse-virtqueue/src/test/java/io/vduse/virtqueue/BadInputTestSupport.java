package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.vduse.iova.Access;
import io.vduse.virtqueue.VirtqueueException.Reason;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** What every bad-input case checks: the typed error, a broken queue that fails fast, no harm done. */
final class BadInputTestSupport {

    static final long READ_ONLY = 0x500000;
    static final long WRITE_ONLY = 0x600000;
    static final long HOLE = 0x700000;

    private BadInputTestSupport() {}

    /** A rig with a read-only page at {@link #READ_ONLY} and a write-only one at {@link #WRITE_ONLY}. */
    static Rig rig(boolean packed, int size, boolean indirect) {
        Rig rig = new Rig(size, Rig.features(packed, true, indirect));
        rig.memory.map(READ_ONLY, 4096, Access.READ).map(WRITE_ONLY, 4096, Access.WRITE);
        return rig;
    }

    /** Pops and expects {@code reason}; checks the queue is broken and nothing was written. */
    static VirtqueueException popFails(Rig rig, Reason reason) {
        byte[][] before = rig.memory.snapshot();
        DescriptorChain chain = rig.device.newChain();
        VirtqueueException e = catchThrowableOfType(VirtqueueException.class, () -> rig.device.pop(chain));
        assertThat(e).as("pop must fail with %s", reason).isNotNull();
        assertThat(e.reason()).as(e.getMessage()).isEqualTo(reason);
        assertStopped(rig, e, chain);
        // A failed pop writes nothing at all, used ring included.
        assertThat(rig.memory.changedOutside(before)).as("first byte changed").isEqualTo(-1);
        return e;
    }

    /** Runs an access to a popped chain and expects an IOVA fault that breaks the queue. */
    static VirtqueueException accessFails(Rig rig, DescriptorChain chain, ThrowingCallable access) {
        VirtqueueException e = catchThrowableOfType(VirtqueueException.class, access);
        assertThat(e).isNotNull();
        assertThat(e.reason()).isEqualTo(Reason.IOVA_FAULT);
        assertStopped(rig, e, rig.device.newChain());
        return e;
    }

    private static void assertStopped(Rig rig, VirtqueueException e, DescriptorChain chain) {
        assertThat(rig.device.failure()).isSameAs(e);
        assertThatThrownBy(() -> rig.device.pop(chain)).isSameAs(e);
        assertThatThrownBy(() -> rig.device.publish()).isSameAs(e);
        assertThatThrownBy(() -> rig.device.enableNotifications()).isSameAs(e);
    }
}
