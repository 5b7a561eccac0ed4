package io.vduse.it.vhost;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.Ioctl;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The client's ioctl numbers and struct layouts against Linux 7.3's {@code vhost.h} and
 * {@code vhost_types.h}, without a compiler: each number below was worked out from the header's
 * {@code _IO*(VHOST_VIRTIO, nr, type)} line and the C size of the type (a script over the unpacked
 * {@code linux-source-7.3} header, the sizes by hand from the struct definitions), not from the
 * Java code it checks. A wrong nr, direction or argument layout changes the number, so the kernel
 * would answer it like an unknown request; this catches it on any machine.
 */
class VhostLayoutTest {

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({
        "VHOST_GET_FEATURES, 0x8008af00",           // _IOR(0xAF, 0x00, __u64)
        "VHOST_SET_FEATURES, 0x4008af00",           // _IOW(0xAF, 0x00, __u64)
        "VHOST_SET_OWNER, 0x0000af01",              // _IO(0xAF, 0x01)
        "VHOST_SET_VRING_NUM, 0x4008af10",          // _IOW(0xAF, 0x10, struct vhost_vring_state)
        "VHOST_SET_VRING_ADDR, 0x4028af11",         // _IOW(0xAF, 0x11, struct vhost_vring_addr)
        "VHOST_SET_VRING_BASE, 0x4008af12",         // _IOW(0xAF, 0x12, struct vhost_vring_state)
        "VHOST_GET_VRING_BASE, 0xc008af12",         // _IOWR(0xAF, 0x12, struct vhost_vring_state)
        "VHOST_SET_VRING_KICK, 0x4008af20",         // _IOW(0xAF, 0x20, struct vhost_vring_file)
        "VHOST_SET_VRING_CALL, 0x4008af21",         // _IOW(0xAF, 0x21, struct vhost_vring_file)
        "VHOST_SET_BACKEND_FEATURES, 0x4008af25",   // _IOW(0xAF, 0x25, __u64)
        "VHOST_GET_BACKEND_FEATURES, 0x8008af26",   // _IOR(0xAF, 0x26, __u64)
        "VHOST_VDPA_GET_DEVICE_ID, 0x8004af70",     // _IOR(0xAF, 0x70, __u32)
        "VHOST_VDPA_GET_STATUS, 0x8001af71",        // _IOR(0xAF, 0x71, __u8)
        "VHOST_VDPA_SET_STATUS, 0x4001af72",        // _IOW(0xAF, 0x72, __u8)
        "VHOST_VDPA_GET_CONFIG, 0x8008af73",        // _IOR(0xAF, 0x73, struct vhost_vdpa_config)
        "VHOST_VDPA_SET_VRING_ENABLE, 0x4008af75",  // _IOW(0xAF, 0x75, struct vhost_vring_state)
        "VHOST_VDPA_GET_VRING_NUM, 0x8002af76",     // _IOR(0xAF, 0x76, __u16)
        "VHOST_VDPA_GET_IOVA_RANGE, 0x8010af78",    // _IOR(0xAF, 0x78, struct vhost_vdpa_iova_range)
        "VHOST_VDPA_GET_AS_NUM, 0x8004af7a",        // _IOR(0xAF, 0x7A, unsigned int)
        "VHOST_VDPA_GET_VRING_GROUP, 0xc008af7b",   // _IOWR(0xAF, 0x7B, struct vhost_vring_state)
        "VHOST_VDPA_SET_GROUP_ASID, 0x4008af7c",    // _IOW(0xAF, 0x7C, struct vhost_vring_state)
        "VHOST_VDPA_SUSPEND, 0x0000af7d",           // _IO(0xAF, 0x7D)
        "VHOST_VDPA_GET_VQS_COUNT, 0x8004af80",     // _IOR(0xAF, 0x80, __u32)
        "VHOST_VDPA_GET_GROUP_NUM, 0x8004af81",     // _IOR(0xAF, 0x81, __u32)
    })
    void eachRequestNumberIsTheHeaders(String name, String number) {
        Ioctl ioctl = VhostIoctls.ALL.stream().filter(i -> i.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " in VhostIoctls.ALL"));
        assertThat("0x%08x".formatted(ioctl.request())).isEqualTo(number);
    }

    @Test
    void theTableCoversEveryRequestTheClientHas() {
        // The parameterized table above has 24 rows; a request added to ALL without a row here is
        // a number nobody checked.
        assertThat(VhostIoctls.ALL).hasSize(24);
        assertThat(VhostIoctls.ALL.stream().map(Ioctl::name).collect(Collectors.toSet())).hasSize(24);
    }

    @Test
    void vringStateAndFileAreTwoInts() {
        assertThat(VhostTypes.VRING_STATE.byteSize()).isEqualTo(8);
        assertThat(VhostTypes.STATE_INDEX).isZero();
        assertThat(VhostTypes.STATE_NUM).isEqualTo(4);
        assertThat(VhostTypes.VRING_FILE.byteSize()).isEqualTo(8);
        assertThat(VhostTypes.FILE_INDEX).isZero();
        assertThat(VhostTypes.FILE_FD).isEqualTo(4);
    }

    @Test
    void vringAddrHasUsedBeforeAvail() {
        assertThat(VhostTypes.VRING_ADDR.byteSize()).isEqualTo(40);
        assertThat(VhostTypes.ADDR_INDEX).isZero();
        assertThat(VhostTypes.ADDR_FLAGS).isEqualTo(4);
        assertThat(VhostTypes.ADDR_DESC).isEqualTo(8);
        assertThat(VhostTypes.ADDR_USED).isEqualTo(16);
        assertThat(VhostTypes.ADDR_AVAIL).isEqualTo(24);
        assertThat(VhostTypes.ADDR_LOG).isEqualTo(32);
    }

    @Test
    void iotlbMessageV2IsSeventyTwoBytesWithTheAsidSecond() {
        assertThat(VhostTypes.IOTLB_MSG.byteSize()).isEqualTo(32);
        assertThat(VhostTypes.IOTLB_IOVA).isZero();
        assertThat(VhostTypes.IOTLB_SIZE).isEqualTo(8);
        assertThat(VhostTypes.IOTLB_UADDR).isEqualTo(16);
        assertThat(VhostTypes.IOTLB_PERM).isEqualTo(24);
        assertThat(VhostTypes.IOTLB_TYPE).isEqualTo(25);
        assertThat(VhostTypes.MSG_V2.byteSize()).isEqualTo(72);
        assertThat(VhostTypes.MSG_TYPE).isZero();
        assertThat(VhostTypes.MSG_ASID).isEqualTo(4);
        assertThat(VhostTypes.MSG_IOTLB).isEqualTo(8);
        assertThat(VhostTypes.MSG_UNION.byteSize()).isEqualTo(64);
    }

    @Test
    void configHeaderAndIovaRange() {
        assertThat(VhostTypes.VDPA_CONFIG.byteSize()).isEqualTo(8);
        assertThat(VhostTypes.CONFIG_OFF).isZero();
        assertThat(VhostTypes.CONFIG_LEN).isEqualTo(4);
        assertThat(VhostTypes.IOVA_RANGE.byteSize()).isEqualTo(16);
    }

    @Test
    void constantsAreTheHeaders() {
        // vhost_types.h: VHOST_IOTLB_MSG_V2 0x2; UPDATE 2, INVALIDATE 3, BATCH_BEGIN 5, BATCH_END 6;
        // VHOST_ACCESS_RW 0x3; backend bits MSG_V2 0x1, BATCH 0x2, ASID 0x3, SUSPEND 0x4.
        assertThat(VhostTypes.IOTLB_MSG_V2).isEqualTo(2);
        assertThat(VhostTypes.IOTLB_UPDATE).isEqualTo((byte) 2);
        assertThat(VhostTypes.IOTLB_INVALIDATE).isEqualTo((byte) 3);
        assertThat(VhostTypes.IOTLB_BATCH_BEGIN).isEqualTo((byte) 5);
        assertThat(VhostTypes.IOTLB_BATCH_END).isEqualTo((byte) 6);
        assertThat(VhostTypes.ACCESS_RW).isEqualTo((byte) 3);
        assertThat(VhostTypes.BACKEND_F_IOTLB_MSG_V2).isEqualTo(1);
        assertThat(VhostTypes.BACKEND_F_IOTLB_BATCH).isEqualTo(2);
        assertThat(VhostTypes.BACKEND_F_IOTLB_ASID).isEqualTo(3);
        assertThat(VhostTypes.BACKEND_F_SUSPEND).isEqualTo(4);
    }
}
