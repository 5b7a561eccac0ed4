package io.vduse.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Checks ioctl numbers, sizes and offsets against the table of current mainline
 * {@code include/uapi/linux/vduse.h} in {@code shared/reference/vduse-uapi.md}. This covers what
 * the machine's older header lacks (API v1); {@link HeaderProbeTest} covers the rest against the
 * compiler.
 */
class ReferenceTableTest {

    @Test
    void ioctlNumbersMatchTheReferenceTable() {
        Map<Ioctl, Long> table = new LinkedHashMap<>();
        table.put(VduseIoctls.GET_API_VERSION, 0x80088100L);
        table.put(VduseIoctls.SET_API_VERSION, 0x40088101L);
        table.put(VduseIoctls.CREATE_DEV, 0x41508102L);
        table.put(VduseIoctls.DESTROY_DEV, 0x41008103L);
        table.put(VduseIoctls.GET_FEATURES, 0x80088104L);
        table.put(VduseIoctls.SET_FEATURES, 0x40088105L);
        table.put(VduseIoctls.IOTLB_GET_FD, 0xc0208110L);
        table.put(VduseIoctls.DEV_GET_FEATURES, 0x80088111L);
        table.put(VduseIoctls.DEV_SET_CONFIG, 0x40088112L);
        table.put(VduseIoctls.DEV_INJECT_CONFIG_IRQ, 0x00008113L);
        table.put(VduseIoctls.VQ_SETUP, 0x40208114L);
        table.put(VduseIoctls.VQ_GET_INFO, 0xc0308115L);
        table.put(VduseIoctls.VQ_SETUP_KICKFD, 0x40088116L);
        table.put(VduseIoctls.VQ_INJECT_IRQ, 0x40048117L);
        table.put(VduseIoctls.IOTLB_REG_UMEM, 0x40308118L);
        table.put(VduseIoctls.IOTLB_DEREG_UMEM, 0x40308119L);
        table.put(VduseIoctls.IOTLB_GET_INFO, 0xc030811aL);
        // 0xc050811b as Linux 7.3's header defines it; shared/reference/vduse-uapi.md says 0xc058811b (88 bytes), wrongly.
        table.put(VduseIoctls.IOTLB_GET_FD2, 0xc050811bL);

        assertThat(table.keySet()).containsExactlyElementsOf(VduseIoctls.ALL);
        table.forEach((ioctl, expected) ->
                assertThat(ioctl.request()).as(ioctl.name()).isEqualTo(expected));
    }

    @Test
    void apiV1FieldsSitWhereTheReferenceTableSays() {
        assertThat(VduseDevConfig.LAYOUT.byteSize()).isEqualTo(336);
        assertThat(VduseDevConfig.NGROUPS).isEqualTo(280);
        assertThat(VduseDevConfig.NAS).isEqualTo(284);
        assertThat(VduseDevConfig.RESERVED).isEqualTo(288);
        assertThat(VduseDevConfig.CONFIG_SIZE).isEqualTo(332);

        assertThat(VduseIotlbEntryV2.LAYOUT.byteSize()).isEqualTo(80);
        assertThat(VduseIotlbEntryV2.V1).isZero();
        assertThat(VduseIotlbEntryV2.ASID).isEqualTo(32);

        assertThat(VduseVqConfig.LAYOUT.byteSize()).isEqualTo(32);
        assertThat(VduseVqConfig.GROUP).isEqualTo(8);

        assertThat(VduseIovaUmem.LAYOUT.byteSize()).isEqualTo(48);
        assertThat(VduseIovaUmem.ASID).isEqualTo(24);
        assertThat(VduseIovaInfo.LAYOUT.byteSize()).isEqualTo(48);
        assertThat(VduseIovaInfo.ASID).isEqualTo(24);

        assertThat(VduseDevRequest.SIZE).isEqualTo(152);
        assertThat(VduseDevRequest.PAYLOAD_OFFSET).isEqualTo(24);
        assertThat(VduseDevRequest.IOVA_START).isEqualTo(24);
        assertThat(VduseDevRequest.IOVA_LAST).isEqualTo(32);
        assertThat(VduseDevRequest.IOVA_ASID).isEqualTo(40);
        assertThat(VduseDevRequest.GROUP_ASID_GROUP).isEqualTo(24);
        assertThat(VduseDevRequest.GROUP_ASID_ASID).isEqualTo(28);
        assertThat(VduseResponse.SIZE).isEqualTo(152);

        assertThat(VduseVqInfo.LAYOUT.byteSize()).isEqualTo(48);
        assertThat(VduseVqInfo.STATE).isEqualTo(32);
        assertThat(VduseVqInfo.READY).isEqualTo(40);
    }
}
