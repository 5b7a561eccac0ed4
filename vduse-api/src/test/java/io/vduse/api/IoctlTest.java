package io.vduse.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import java.lang.foreign.MemoryLayout;
import org.junit.jupiter.api.Test;

/** The {@code _IOC} encoding and the small helpers next to the constants. */
class IoctlTest {

    @Test
    void encodesDirectionSizeTypeAndNumber() {
        // _IOWR('V', 0x4e, 24 bytes) and friends, as computed by hand from asm-generic/ioctl.h
        assertThat(Ioctl.readWrite("X", 'V', 0x4e, MemoryLayout.paddingLayout(24)).request()).isEqualTo(0xc018564eL);
        assertThat(Ioctl.read("X", 0x81, 0, Layouts.U64).request()).isEqualTo(0x80088100L);
        assertThat(Ioctl.none("X", 0x81, 0x13).request()).isEqualTo(0x8113L);
        assertThat(Ioctl.write("X", 0xff, 0xff, MemoryLayout.paddingLayout(0x3fff)).request()).isEqualTo(0x7fffffffL);
    }

    @Test
    void refusesFieldsThatDoNotFit() {
        assertThatThrownBy(() -> Ioctl.none("X", 256, 0)).hasMessageContaining("type");
        assertThatThrownBy(() -> Ioctl.none("X", 0, 256)).hasMessageContaining("nr");
        assertThatThrownBy(() -> Ioctl.write("X", 0, 0, MemoryLayout.paddingLayout(1 << 14)))
                .hasMessageContaining("size");
        assertThatThrownBy(() -> new Ioctl("X", Ioctl.Direction.NONE, 0, 0, 8)).hasMessageContaining("direction");
    }

    @Test
    void toStringNamesTheMacroAndTheNumber() {
        assertThat(VduseIoctls.CREATE_DEV).hasToString("VDUSE_CREATE_DEV (0x41508102)");
    }

    @Test
    void statusDescribesItsBits() {
        assertThat(VirtioStatus.describe(0)).isEqualTo("RESET");
        assertThat(VirtioStatus.describe(0x0f)).isEqualTo("ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK");
        assertThat(VirtioStatus.describe(0x50)).isEqualTo("DEVICE_NEEDS_RESET|0x10");
        assertThat(VirtioStatus.has(0x0b, VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER)).isTrue();
        assertThat(VirtioStatus.has(0x0b, VirtioStatus.DRIVER_OK)).isFalse();
    }

    @Test
    void featureBits() {
        assertThat(VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM)).isEqualTo(1L << 33);
        assertThat(VirtioFeatures.has(1L << 32, VirtioFeatures.VERSION_1)).isTrue();
        assertThatThrownBy(() -> VirtioFeatures.bit(64)).hasMessageContaining("0..63");
    }

    @Test
    void needEventFollowsTheSpecificationFormula() {
        // Moving used idx from 10 to 13 passes event 10, 11 and 12 but not 13 or 9.
        assertThat(SplitRing.needEvent(10, 13, 10)).isTrue();
        assertThat(SplitRing.needEvent(12, 13, 10)).isTrue();
        assertThat(SplitRing.needEvent(13, 13, 10)).isFalse();
        assertThat(SplitRing.needEvent(9, 13, 10)).isFalse();
        // Across the 16-bit wrap.
        assertThat(SplitRing.needEvent(0xffff, 2, 0xfffe)).isTrue();
        assertThat(SplitRing.needEvent(2, 2, 0xfffe)).isFalse();
        assertThat(SplitRing.availEventOffset(256)).isEqualTo(4 + 8 * 256);
        assertThat(SplitRing.usedEventOffset(256)).isEqualTo(4 + 2 * 256);
    }
}
