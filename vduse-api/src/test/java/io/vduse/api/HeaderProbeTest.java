package io.vduse.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.vduse.api.HeaderProbe.Probe;
import io.vduse.api.virtio.PackedRing;
import io.vduse.api.virtio.SplitRing;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioNet;
import io.vduse.api.virtio.VirtioStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks every size, field offset, ioctl number and constant of ours against the machine's
 * {@code <linux/vduse.h>}, {@code <linux/virtio_blk.h>}, {@code <linux/virtio_net.h>},
 * {@code <linux/virtio_ring.h>} and {@code <linux/virtio_config.h>}, compiled with the machine's C compiler.
 *
 * <p>What an older header lacks (API v1) is printed only where the header defines
 * {@code VDUSE_API_VERSION_1}; {@link ReferenceTableTest} checks those against the reference
 * table instead.
 */
class HeaderProbeTest {

    private final Map<String, Probe> probes = new LinkedHashMap<>();
    private final Map<String, Long> ours = new LinkedHashMap<>();

    private void expect(String cExpression, long javaValue) {
        expect(cExpression, cExpression, null, javaValue);
    }

    private void expectV1(String cExpression, long javaValue) {
        expect(cExpression, cExpression, "VDUSE_API_VERSION_1", javaValue);
    }

    /** What a header with the VDUSE features of Linux 7.3 defines; older ones lack it. */
    private static final String FEATURES_GUARD = "VDUSE_F_QUEUE_READY";

    private void expectFeatures(String cExpression, long javaValue) {
        expect(cExpression, cExpression, FEATURES_GUARD, javaValue);
    }

    private void expect(String key, String cExpression, String guard, long javaValue) {
        String k = key.replaceAll("[^A-Za-z0-9_]+", "_");
        probes.put(k, new Probe(k, cExpression, guard));
        ours.put(k, javaValue);
    }

    private void vduse() {
        expect("VDUSE_BASE", Vduse.BASE);
        expect("VDUSE_API_VERSION", Vduse.API_VERSION_0);
        expectV1("VDUSE_API_VERSION_1", Vduse.API_VERSION_1);
        expect("VDUSE_NAME_MAX", Vduse.NAME_MAX);
        expect("VDUSE_ACCESS_RO", Vduse.ACCESS_RO);
        expect("VDUSE_ACCESS_WO", Vduse.ACCESS_WO);
        expect("VDUSE_ACCESS_RW", Vduse.ACCESS_RW);
        expect("VDUSE_EVENTFD_DEASSIGN + 0", Vduse.EVENTFD_DEASSIGN & 0xffffffffffffffffL);
        expect("VDUSE_IOVA_CAP_UMEM", Vduse.IOVA_CAP_UMEM);
        expect("VDUSE_REQ_RESULT_OK", Vduse.REQ_RESULT_OK);
        expect("VDUSE_REQ_RESULT_FAILED", Vduse.REQ_RESULT_FAILED);
        expect("VDUSE_GET_VQ_STATE", Vduse.REQ_GET_VQ_STATE);
        expect("VDUSE_SET_STATUS", Vduse.REQ_SET_STATUS);
        expect("VDUSE_UPDATE_IOTLB", Vduse.REQ_UPDATE_IOTLB);
        expectV1("VDUSE_SET_VQ_GROUP_ASID", Vduse.REQ_SET_VQ_GROUP_ASID);
        expectFeatures("VDUSE_SET_VQ_READY", Vduse.REQ_SET_VQ_READY);
        expectFeatures("VDUSE_SUSPEND", Vduse.REQ_SUSPEND);
        expectFeatures("VDUSE_F_QUEUE_READY", Vduse.F_QUEUE_READY);
        expectFeatures("VDUSE_F_SUSPEND", Vduse.F_SUSPEND);

        for (Ioctl ioctl : VduseIoctls.ALL) {
            String guard = ioctl == VduseIoctls.IOTLB_GET_FD2 ? "VDUSE_API_VERSION_1"
                    : ioctl == VduseIoctls.GET_FEATURES || ioctl == VduseIoctls.SET_FEATURES ? FEATURES_GUARD
                    : null;
            expect(ioctl.name(), ioctl.name(), guard, ioctl.request());
        }

        String dc = "struct vduse_dev_config";
        expect("sizeof(" + dc + ")", VduseDevConfig.LAYOUT.byteSize());
        expect("offsetof(" + dc + ", name)", VduseDevConfig.NAME);
        expect("offsetof(" + dc + ", vendor_id)", VduseDevConfig.VENDOR_ID);
        expect("offsetof(" + dc + ", device_id)", VduseDevConfig.DEVICE_ID);
        expect("offsetof(" + dc + ", features)", VduseDevConfig.FEATURES);
        expect("offsetof(" + dc + ", vq_num)", VduseDevConfig.VQ_NUM);
        expect("offsetof(" + dc + ", vq_align)", VduseDevConfig.VQ_ALIGN);
        expectV1("offsetof(" + dc + ", ngroups)", VduseDevConfig.NGROUPS);
        expectV1("offsetof(" + dc + ", nas)", VduseDevConfig.NAS);
        expect("offsetof(" + dc + ", config_size)", VduseDevConfig.CONFIG_SIZE);
        expect("offsetof(" + dc + ", config)", VduseDevConfig.CONFIG);

        String ie = "struct vduse_iotlb_entry";
        expect("sizeof(" + ie + ")", VduseIotlbEntry.LAYOUT.byteSize());
        expect("offsetof(" + ie + ", offset)", VduseIotlbEntry.OFFSET);
        expect("offsetof(" + ie + ", start)", VduseIotlbEntry.START);
        expect("offsetof(" + ie + ", last)", VduseIotlbEntry.LAST);
        expect("offsetof(" + ie + ", perm)", VduseIotlbEntry.PERM);
        expectV1("sizeof(struct vduse_iotlb_entry_v2)", VduseIotlbEntryV2.LAYOUT.byteSize());
        expectV1("offsetof(struct vduse_iotlb_entry_v2, asid)", VduseIotlbEntryV2.ASID);

        String cd = "struct vduse_config_data";
        expect("sizeof(" + cd + ")", VduseConfigData.LAYOUT.byteSize());
        expect("offsetof(" + cd + ", offset)", VduseConfigData.OFFSET);
        expect("offsetof(" + cd + ", length)", VduseConfigData.LENGTH);
        expect("offsetof(" + cd + ", buffer)", VduseConfigData.BUFFER);

        String vc = "struct vduse_vq_config";
        expect("sizeof(" + vc + ")", VduseVqConfig.LAYOUT.byteSize());
        expect("offsetof(" + vc + ", index)", VduseVqConfig.INDEX);
        expect("offsetof(" + vc + ", max_size)", VduseVqConfig.MAX_SIZE);
        expectV1("offsetof(" + vc + ", group)", VduseVqConfig.GROUP);

        String vi = "struct vduse_vq_info";
        expect("sizeof(" + vi + ")", VduseVqInfo.LAYOUT.byteSize());
        expect("offsetof(" + vi + ", index)", VduseVqInfo.INDEX);
        expect("offsetof(" + vi + ", num)", VduseVqInfo.NUM);
        expect("offsetof(" + vi + ", desc_addr)", VduseVqInfo.DESC_ADDR);
        expect("offsetof(" + vi + ", driver_addr)", VduseVqInfo.DRIVER_ADDR);
        expect("offsetof(" + vi + ", device_addr)", VduseVqInfo.DEVICE_ADDR);
        expect("offsetof(" + vi + ", split.avail_index)", VduseVqInfo.STATE);
        expect("offsetof(" + vi + ", packed.last_avail_counter)", VduseVqInfo.STATE);
        expect("offsetof(" + vi + ", packed.last_avail_idx)", VduseVqInfo.STATE + 2);
        expect("offsetof(" + vi + ", packed.last_used_counter)", VduseVqInfo.STATE + 4);
        expect("offsetof(" + vi + ", packed.last_used_idx)", VduseVqInfo.STATE + 6);
        expect("offsetof(" + vi + ", ready)", VduseVqInfo.READY);
        expect("sizeof(union { struct vduse_vq_state_split s; struct vduse_vq_state_packed p; })",
                VqState.LAYOUT.byteSize());

        String ve = "struct vduse_vq_eventfd";
        expect("sizeof(" + ve + ")", VduseVqEventfd.LAYOUT.byteSize());
        expect("offsetof(" + ve + ", index)", VduseVqEventfd.INDEX);
        expect("offsetof(" + ve + ", fd)", VduseVqEventfd.FD);

        String um = "struct vduse_iova_umem";
        expect("sizeof(" + um + ")", VduseIovaUmem.LAYOUT.byteSize());
        expect("offsetof(" + um + ", uaddr)", VduseIovaUmem.UADDR);
        expect("offsetof(" + um + ", iova)", VduseIovaUmem.IOVA);
        expect("offsetof(" + um + ", size)", VduseIovaUmem.SIZE);
        expectV1("offsetof(" + um + ", asid)", VduseIovaUmem.ASID);

        String ii = "struct vduse_iova_info";
        expect("sizeof(" + ii + ")", VduseIovaInfo.LAYOUT.byteSize());
        expect("offsetof(" + ii + ", start)", VduseIovaInfo.START);
        expect("offsetof(" + ii + ", last)", VduseIovaInfo.LAST);
        expect("offsetof(" + ii + ", capability)", VduseIovaInfo.CAPABILITY);
        expectV1("offsetof(" + ii + ", asid)", VduseIovaInfo.ASID);

        String rq = "struct vduse_dev_request";
        expect("sizeof(" + rq + ")", VduseDevRequest.SIZE);
        expect("offsetof(" + rq + ", type)", VduseDevRequest.TYPE);
        expect("offsetof(" + rq + ", request_id)", VduseDevRequest.REQUEST_ID);
        expect("offsetof(" + rq + ", reserved)", VduseDevRequest.RESERVED);
        expect("offsetof(" + rq + ", vq_state.index)", VduseDevRequest.VQ_STATE_INDEX);
        expect("offsetof(" + rq + ", vq_state.split.avail_index)", VduseDevRequest.VQ_STATE_STATE);
        expect("offsetof(" + rq + ", vq_state.packed.last_used_idx)", VduseDevRequest.VQ_STATE_STATE + 6);
        expect("offsetof(" + rq + ", s.status)", VduseDevRequest.STATUS);
        expect("offsetof(" + rq + ", iova.start)", VduseDevRequest.IOVA_START);
        expect("offsetof(" + rq + ", iova.last)", VduseDevRequest.IOVA_LAST);
        expectV1("offsetof(" + rq + ", iova_v2.asid)", VduseDevRequest.IOVA_ASID);
        expectV1("offsetof(" + rq + ", vq_group_asid.group)", VduseDevRequest.GROUP_ASID_GROUP);
        expectV1("offsetof(" + rq + ", vq_group_asid.asid)", VduseDevRequest.GROUP_ASID_ASID);
        expectFeatures("offsetof(" + rq + ", vq_ready.num)", VduseDevRequest.VQ_READY_NUM);
        expectFeatures("offsetof(" + rq + ", vq_ready.ready)", VduseDevRequest.VQ_READY_READY);

        String rs = "struct vduse_dev_response";
        expect("sizeof(" + rs + ")", VduseResponse.SIZE);
        expect("offsetof(" + rs + ", request_id)", VduseResponse.REQUEST_ID);
        expect("offsetof(" + rs + ", result)", VduseResponse.RESULT);
        expect("offsetof(" + rs + ", reserved)", VduseResponse.RESERVED);
        expect("offsetof(" + rs + ", vq_state.index)", VduseResponse.VQ_STATE_INDEX);
        expect("offsetof(" + rs + ", vq_state.packed.last_avail_counter)", VduseResponse.VQ_STATE_STATE);
    }

    private void virtio() {
        expect("VIRTIO_CONFIG_S_ACKNOWLEDGE", VirtioStatus.ACKNOWLEDGE);
        expect("VIRTIO_CONFIG_S_DRIVER", VirtioStatus.DRIVER);
        expect("VIRTIO_CONFIG_S_DRIVER_OK", VirtioStatus.DRIVER_OK);
        expect("VIRTIO_CONFIG_S_FEATURES_OK", VirtioStatus.FEATURES_OK);
        expect("VIRTIO_CONFIG_S_NEEDS_RESET", VirtioStatus.DEVICE_NEEDS_RESET);
        expect("VIRTIO_CONFIG_S_FAILED", VirtioStatus.FAILED);

        expect("VIRTIO_F_NOTIFY_ON_EMPTY", VirtioFeatures.NOTIFY_ON_EMPTY);
        expect("VIRTIO_F_ANY_LAYOUT", VirtioFeatures.ANY_LAYOUT);
        expect("VIRTIO_RING_F_INDIRECT_DESC", VirtioFeatures.INDIRECT_DESC);
        expect("VIRTIO_RING_F_EVENT_IDX", VirtioFeatures.EVENT_IDX);
        expect("VIRTIO_F_VERSION_1", VirtioFeatures.VERSION_1);
        expect("VIRTIO_F_ACCESS_PLATFORM", VirtioFeatures.ACCESS_PLATFORM);
        expect("VIRTIO_F_RING_PACKED", VirtioFeatures.RING_PACKED);
        expect("VIRTIO_F_IN_ORDER", VirtioFeatures.IN_ORDER);
        expect("VIRTIO_F_ORDER_PLATFORM", VirtioFeatures.ORDER_PLATFORM);
        expect("VIRTIO_F_SR_IOV", VirtioFeatures.SR_IOV);
        expect("VIRTIO_F_NOTIFICATION_DATA", "VIRTIO_F_NOTIFICATION_DATA", "VIRTIO_F_NOTIFICATION_DATA",
                VirtioFeatures.NOTIFICATION_DATA);
        expect("VIRTIO_F_RING_RESET", VirtioFeatures.RING_RESET);

        expect("VRING_DESC_F_NEXT", SplitRing.DESC_F_NEXT);
        expect("VRING_DESC_F_WRITE", SplitRing.DESC_F_WRITE);
        expect("VRING_DESC_F_INDIRECT", SplitRing.DESC_F_INDIRECT);
        expect("VRING_USED_F_NO_NOTIFY", SplitRing.USED_F_NO_NOTIFY);
        expect("VRING_AVAIL_F_NO_INTERRUPT", SplitRing.AVAIL_F_NO_INTERRUPT);
        expect("sizeof(struct vring_desc)", SplitRing.DESC_SIZE);
        expect("offsetof(struct vring_desc, addr)", SplitRing.DESC_ADDR);
        expect("offsetof(struct vring_desc, len)", SplitRing.DESC_LEN);
        expect("offsetof(struct vring_desc, flags)", SplitRing.DESC_FLAGS);
        expect("offsetof(struct vring_desc, next)", SplitRing.DESC_NEXT);
        expect("offsetof(struct vring_avail, idx)", SplitRing.AVAIL_IDX);
        expect("offsetof(struct vring_avail, ring)", SplitRing.AVAIL_RING);
        expect("offsetof(struct vring_used, idx)", SplitRing.USED_IDX);
        expect("offsetof(struct vring_used, ring)", SplitRing.USED_RING);
        expect("sizeof(struct vring_used_elem)", SplitRing.USED_ELEM_SIZE);
        expect("1 << VRING_PACKED_DESC_F_AVAIL", PackedRing.DESC_F_AVAIL);
        expect("1 << VRING_PACKED_DESC_F_USED", PackedRing.DESC_F_USED);
        expect("VRING_PACKED_EVENT_FLAG_ENABLE", PackedRing.EVENT_FLAGS_ENABLE);
        expect("VRING_PACKED_EVENT_FLAG_DISABLE", PackedRing.EVENT_FLAGS_DISABLE);
        expect("VRING_PACKED_EVENT_FLAG_DESC", PackedRing.EVENT_FLAGS_DESC);
        expect("sizeof(struct vring_packed_desc)", PackedRing.DESC_SIZE);
        expect("offsetof(struct vring_packed_desc, addr)", PackedRing.DESC_ADDR);
        expect("offsetof(struct vring_packed_desc, len)", PackedRing.DESC_LEN);
        expect("offsetof(struct vring_packed_desc, id)", PackedRing.DESC_ID);
        expect("offsetof(struct vring_packed_desc, flags)", PackedRing.DESC_FLAGS);
        expect("sizeof(struct vring_packed_desc_event)", PackedRing.EVENT_SUPPRESS_SIZE);
        expect("offsetof(struct vring_packed_desc_event, off_wrap)", PackedRing.EVENT_OFF_WRAP);
        expect("offsetof(struct vring_packed_desc_event, flags)", PackedRing.EVENT_FLAGS);
    }

    private void virtioBlk() {
        expect("VIRTIO_ID_BLOCK", io.vduse.api.virtio.VirtioDeviceId.BLOCK);
        expect("VIRTIO_ID_NET", io.vduse.api.virtio.VirtioDeviceId.NET);
        expect("VIRTIO_BLK_F_SIZE_MAX", VirtioBlk.F_SIZE_MAX);
        expect("VIRTIO_BLK_F_SEG_MAX", VirtioBlk.F_SEG_MAX);
        expect("VIRTIO_BLK_F_GEOMETRY", VirtioBlk.F_GEOMETRY);
        expect("VIRTIO_BLK_F_RO", VirtioBlk.F_RO);
        expect("VIRTIO_BLK_F_BLK_SIZE", VirtioBlk.F_BLK_SIZE);
        expect("VIRTIO_BLK_F_FLUSH", VirtioBlk.F_FLUSH);
        expect("VIRTIO_BLK_F_TOPOLOGY", VirtioBlk.F_TOPOLOGY);
        expect("VIRTIO_BLK_F_CONFIG_WCE", VirtioBlk.F_CONFIG_WCE);
        expect("VIRTIO_BLK_F_MQ", VirtioBlk.F_MQ);
        expect("VIRTIO_BLK_F_DISCARD", VirtioBlk.F_DISCARD);
        expect("VIRTIO_BLK_F_WRITE_ZEROES", VirtioBlk.F_WRITE_ZEROES);
        expect("VIRTIO_BLK_F_SECURE_ERASE", VirtioBlk.F_SECURE_ERASE);
        expect("VIRTIO_BLK_T_IN", VirtioBlk.T_IN);
        expect("VIRTIO_BLK_T_OUT", VirtioBlk.T_OUT);
        expect("VIRTIO_BLK_T_FLUSH", VirtioBlk.T_FLUSH);
        expect("VIRTIO_BLK_T_GET_ID", VirtioBlk.T_GET_ID);
        expect("VIRTIO_BLK_T_DISCARD", VirtioBlk.T_DISCARD);
        expect("VIRTIO_BLK_T_WRITE_ZEROES", VirtioBlk.T_WRITE_ZEROES);
        expect("VIRTIO_BLK_T_SECURE_ERASE", VirtioBlk.T_SECURE_ERASE);
        expect("VIRTIO_BLK_S_OK", VirtioBlk.S_OK);
        expect("VIRTIO_BLK_S_IOERR", VirtioBlk.S_IOERR);
        expect("VIRTIO_BLK_S_UNSUPP", VirtioBlk.S_UNSUPP);
        expect("VIRTIO_BLK_ID_BYTES", VirtioBlk.ID_BYTES);
        expect("VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP", VirtioBlk.WRITE_ZEROES_FLAG_UNMAP);
        expect("sizeof(struct virtio_blk_outhdr)", VirtioBlk.OUT_HDR_SIZE);
        expect("offsetof(struct virtio_blk_outhdr, type)", VirtioBlk.OUT_HDR_TYPE);
        expect("offsetof(struct virtio_blk_outhdr, ioprio)", VirtioBlk.OUT_HDR_IOPRIO);
        expect("offsetof(struct virtio_blk_outhdr, sector)", VirtioBlk.OUT_HDR_SECTOR);
        expect("sizeof(struct virtio_blk_discard_write_zeroes)", VirtioBlk.DWZ_SIZE);
        expect("offsetof(struct virtio_blk_discard_write_zeroes, sector)", VirtioBlk.DWZ_SECTOR);
        expect("offsetof(struct virtio_blk_discard_write_zeroes, num_sectors)", VirtioBlk.DWZ_NUM_SECTORS);
        expect("offsetof(struct virtio_blk_discard_write_zeroes, flags)", VirtioBlk.DWZ_FLAGS);

        String bc = "struct virtio_blk_config";
        // Newer headers append the zoned fields after ours; the size is comparable only without them.
        expect("sizeof(" + bc + ")", "sizeof(" + bc + ")", "!VIRTIO_BLK_F_ZONED", VirtioBlkConfig.SIZE);
        expect("offsetof(" + bc + ", capacity)", VirtioBlkConfig.CAPACITY);
        expect("offsetof(" + bc + ", size_max)", VirtioBlkConfig.SIZE_MAX);
        expect("offsetof(" + bc + ", seg_max)", VirtioBlkConfig.SEG_MAX);
        expect("offsetof(" + bc + ", geometry.cylinders)", VirtioBlkConfig.CYLINDERS);
        expect("offsetof(" + bc + ", geometry.heads)", VirtioBlkConfig.HEADS);
        expect("offsetof(" + bc + ", geometry.sectors)", VirtioBlkConfig.SECTORS);
        expect("offsetof(" + bc + ", blk_size)", VirtioBlkConfig.BLK_SIZE);
        expect("offsetof(" + bc + ", physical_block_exp)", VirtioBlkConfig.PHYSICAL_BLOCK_EXP);
        expect("offsetof(" + bc + ", alignment_offset)", VirtioBlkConfig.ALIGNMENT_OFFSET);
        expect("offsetof(" + bc + ", min_io_size)", VirtioBlkConfig.MIN_IO_SIZE);
        expect("offsetof(" + bc + ", opt_io_size)", VirtioBlkConfig.OPT_IO_SIZE);
        expect("offsetof(" + bc + ", wce)", VirtioBlkConfig.WCE);
        expect("offsetof(" + bc + ", num_queues)", VirtioBlkConfig.NUM_QUEUES);
        expect("offsetof(" + bc + ", max_discard_sectors)", VirtioBlkConfig.MAX_DISCARD_SECTORS);
        expect("offsetof(" + bc + ", max_discard_seg)", VirtioBlkConfig.MAX_DISCARD_SEG);
        expect("offsetof(" + bc + ", discard_sector_alignment)", VirtioBlkConfig.DISCARD_SECTOR_ALIGNMENT);
        expect("offsetof(" + bc + ", max_write_zeroes_sectors)", VirtioBlkConfig.MAX_WRITE_ZEROES_SECTORS);
        expect("offsetof(" + bc + ", max_write_zeroes_seg)", VirtioBlkConfig.MAX_WRITE_ZEROES_SEG);
        expect("offsetof(" + bc + ", write_zeroes_may_unmap)", VirtioBlkConfig.WRITE_ZEROES_MAY_UNMAP);
        expect("offsetof(" + bc + ", max_secure_erase_sectors)", VirtioBlkConfig.MAX_SECURE_ERASE_SECTORS);
        expect("offsetof(" + bc + ", max_secure_erase_seg)", VirtioBlkConfig.MAX_SECURE_ERASE_SEG);
        expect("offsetof(" + bc + ", secure_erase_sector_alignment)",
                VirtioBlkConfig.SECURE_ERASE_SECTOR_ALIGNMENT);
    }

    private void virtioNet() {
        expect("VIRTIO_NET_F_CSUM", VirtioNet.F_CSUM);
        expect("VIRTIO_NET_F_GUEST_CSUM", VirtioNet.F_GUEST_CSUM);
        expect("VIRTIO_NET_F_MTU", VirtioNet.F_MTU);
        expect("VIRTIO_NET_F_MAC", VirtioNet.F_MAC);
        expect("VIRTIO_NET_F_GUEST_TSO4", VirtioNet.F_GUEST_TSO4);
        expect("VIRTIO_NET_F_GUEST_TSO6", VirtioNet.F_GUEST_TSO6);
        expect("VIRTIO_NET_F_GUEST_ECN", VirtioNet.F_GUEST_ECN);
        expect("VIRTIO_NET_F_GUEST_UFO", VirtioNet.F_GUEST_UFO);
        expect("VIRTIO_NET_F_HOST_TSO4", VirtioNet.F_HOST_TSO4);
        expect("VIRTIO_NET_F_HOST_TSO6", VirtioNet.F_HOST_TSO6);
        expect("VIRTIO_NET_F_HOST_ECN", VirtioNet.F_HOST_ECN);
        expect("VIRTIO_NET_F_HOST_UFO", VirtioNet.F_HOST_UFO);
        expect("VIRTIO_NET_F_MRG_RXBUF", VirtioNet.F_MRG_RXBUF);
        expect("VIRTIO_NET_F_STATUS", VirtioNet.F_STATUS);
        expect("VIRTIO_NET_F_CTRL_VQ", VirtioNet.F_CTRL_VQ);
        expect("VIRTIO_NET_F_MQ", VirtioNet.F_MQ);
        expect("VIRTIO_NET_HDR_F_NEEDS_CSUM", VirtioNet.HDR_F_NEEDS_CSUM);
        expect("VIRTIO_NET_HDR_F_DATA_VALID", VirtioNet.HDR_F_DATA_VALID);
        expect("VIRTIO_NET_HDR_GSO_NONE", VirtioNet.GSO_NONE);
        expect("VIRTIO_NET_HDR_GSO_TCPV4", VirtioNet.GSO_TCPV4);
        expect("VIRTIO_NET_HDR_GSO_UDP", VirtioNet.GSO_UDP);
        expect("VIRTIO_NET_HDR_GSO_TCPV6", VirtioNet.GSO_TCPV6);
        expect("VIRTIO_NET_HDR_GSO_ECN", VirtioNet.GSO_ECN);
        expect("VIRTIO_NET_S_LINK_UP", VirtioNet.S_LINK_UP);
        expect("VIRTIO_NET_S_ANNOUNCE", VirtioNet.S_ANNOUNCE);
        expect("sizeof(struct virtio_net_hdr_mrg_rxbuf)", VirtioNet.HDR_SIZE);
        expect("offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers)", 10);
        String nc = "struct virtio_net_config";
        expect("offsetof(" + nc + ", mac)", VirtioNet.CONFIG_MAC);
        expect("offsetof(" + nc + ", status)", VirtioNet.CONFIG_STATUS);
        expect("offsetof(" + nc + ", max_virtqueue_pairs)", VirtioNet.CONFIG_MAX_VIRTQUEUE_PAIRS);
        expect("offsetof(" + nc + ", mtu)", VirtioNet.CONFIG_MTU);
    }

    @Test
    void everySizeOffsetNumberAndConstantMatchesTheMachineHeaders(@TempDir Path work) throws Exception {
        Map<String, Long> header = probe(null, work);
        // Every unguarded probe must have been printed: a missing one means the C program is wrong.
        List<String> unguarded = probes.values().stream().filter(p -> p.guard() == null).map(Probe::key).toList();
        assertThat(header.keySet()).containsAll(unguarded);
        assertMatches(header);
    }

    /**
     * The same against the newest kernel's uapi headers (Linux 7.3's {@code linux-libc-dev},
     * unpacked by {@code vduse-it/guest/fetch-kernel --series 7.3} into the directory the
     * {@code vduse.uapi.headers} property names), where every guarded probe (API v1, the VDUSE
     * features) must be defined: so those parts are checked by a compiler too, not only by
     * {@link ReferenceTableTest}. Skipped without those headers unless {@code vduse.uapi.required}.
     */
    @Test
    void everyProbeMatchesTheNewestKernelHeaders(@TempDir Path work) throws Exception {
        String property = System.getProperty("vduse.uapi.headers", "");
        Path root = property.isBlank() ? null : Path.of(property);
        boolean present = root != null && Files.isRegularFile(root.resolve("linux/vduse.h"));
        if (!present && Boolean.getBoolean("vduse.uapi.required")) {
            fail("no uapi headers at vduse.uapi.headers=" + property + " (linux/vduse.h): fetch them with "
                    + "vduse-it/guest/fetch-kernel --series 7.3");
        }
        Assumptions.assumeTrue(present, "no newer uapi headers at vduse.uapi.headers=" + property
                + "; vduse-it/guest/fetch-kernel --series 7.3 fetches them");
        Map<String, Long> header = probe(root, work);
        assertThat(header.keySet()).as("probes the newest header defines")
                .containsAll(probes.values().stream().filter(p -> p.guard() == null || !p.guard().startsWith("!"))
                        .map(Probe::key).toList());
        assertMatches(header);
    }

    private Map<String, Long> probe(Path headerRoot, Path work) throws Exception {
        Path compiler = HeaderProbe.compiler().orElse(null);
        if (compiler == null) {
            fail("no C compiler (cc or gcc) on the PATH: this test compiles a probe against the kernel "
                    + "headers. Install one with: apt-get install gcc linux-libc-dev");
        }
        vduse();
        virtio();
        virtioBlk();
        virtioNet();
        return HeaderProbe.run(compiler, headerRoot,
                List.of("linux/vduse.h", "linux/virtio_blk.h", "linux/virtio_ring.h", "linux/virtio_config.h",
                        "linux/virtio_ids.h", "linux/virtio_net.h"),
                new ArrayList<>(probes.values()), work);
    }

    private void assertMatches(Map<String, Long> header) {
        List<String> mismatches = new ArrayList<>();
        header.forEach((key, value) -> {
            if (!value.equals(ours.get(key))) {
                mismatches.add("%s: header 0x%x, ours 0x%x".formatted(key, value, ours.get(key)));
            }
        });
        assertThat(mismatches).as("values that differ from the headers").isEmpty();
        assertThat(header).hasSizeGreaterThan(150);
    }
}
