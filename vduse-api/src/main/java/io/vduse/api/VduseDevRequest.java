package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static io.vduse.api.Layouts.U64;
import static io.vduse.api.Layouts.U8;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;

/**
 * {@code struct vduse_dev_request}: one control message, as {@code read(2)} on
 * {@code /dev/vduse/$NAME} returns it. {@link VduseRequest} is its decoded form.
 *
 * <pre>
 *   0 u32 type          VDUSE_GET_VQ_STATE, _SET_STATUS, _UPDATE_IOTLB, _SET_VQ_GROUP_ASID,
 *                       _SET_VQ_READY, _SUSPEND (no payload)
 *   4 u32 request_id    to be echoed in the response
 *   8 u32 reserved[4]
 *  24 union, 128 bytes:
 *     vq_state       { u32 index; union vq_state state; }          GET_VQ_STATE
 *     s              { u8 status; }                                SET_STATUS
 *     iova           { u64 start; u64 last; }                      UPDATE_IOTLB
 *     iova_v2        { u64 start; u64 last; u32 asid; }            UPDATE_IOTLB, API v1
 *     vq_group_asid  { u32 group; u32 asid; }                      SET_VQ_GROUP_ASID, API v1
 *     vq_ready       { u32 num; u32 ready; }                       SET_VQ_READY, VDUSE_F_QUEUE_READY
 *     u32 padding[32]
 * </pre>
 */
public final class VduseDevRequest {

    private static final UnionLayout PAYLOAD = MemoryLayout.unionLayout(
            MemoryLayout.structLayout(U32.withName("index"), VqState.LAYOUT.withName("state"))
                    .withName("vq_state"),
            MemoryLayout.structLayout(U8.withName("status")).withName("s"),
            MemoryLayout.structLayout(U64.withName("start"), U64.withName("last")).withName("iova"),
            MemoryLayout.structLayout(U64.withName("start"), U64.withName("last"), U32.withName("asid"),
                    MemoryLayout.paddingLayout(4)).withName("iova_v2"),
            MemoryLayout.structLayout(U32.withName("group"), U32.withName("asid")).withName("vq_group_asid"),
            MemoryLayout.structLayout(U32.withName("num"), U32.withName("ready")).withName("vq_ready"),
            MemoryLayout.sequenceLayout(32, U32).withName("padding"));

    /** The struct, 152 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U32.withName("type"),
            U32.withName("request_id"),
            MemoryLayout.sequenceLayout(4, U32).withName("reserved"),
            PAYLOAD.withName("payload"))
            .withName("vduse_dev_request");

    /** Size of a message: what one {@code read(2)} returns. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code type}. */
    public static final long TYPE = LAYOUT.byteOffset(groupElement("type"));
    /** Offset of {@code request_id}. */
    public static final long REQUEST_ID = LAYOUT.byteOffset(groupElement("request_id"));
    /** Offset of {@code reserved}. */
    public static final long RESERVED = LAYOUT.byteOffset(groupElement("reserved"));
    /** Offset of the payload union. */
    public static final long PAYLOAD_OFFSET = LAYOUT.byteOffset(groupElement("payload"));
    /** Offset of {@code vq_state.index}. */
    public static final long VQ_STATE_INDEX =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("vq_state"), groupElement("index"));
    /** Offset of {@code vq_state}'s split or packed member. */
    public static final long VQ_STATE_STATE =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("vq_state"), groupElement("state"));
    /** Offset of {@code s.status}. */
    public static final long STATUS =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("s"), groupElement("status"));
    /** Offset of {@code iova.start} (and {@code iova_v2.start}). */
    public static final long IOVA_START =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("iova"), groupElement("start"));
    /** Offset of {@code iova.last} (and {@code iova_v2.last}). */
    public static final long IOVA_LAST =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("iova"), groupElement("last"));
    /** Offset of {@code iova_v2.asid}. */
    public static final long IOVA_ASID =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("iova_v2"), groupElement("asid"));
    /** Offset of {@code vq_group_asid.group}. */
    public static final long GROUP_ASID_GROUP =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("vq_group_asid"), groupElement("group"));
    /** Offset of {@code vq_group_asid.asid}. */
    public static final long GROUP_ASID_ASID =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("vq_group_asid"), groupElement("asid"));

    /** Offset of {@code vq_ready.num}. */
    public static final long VQ_READY_NUM =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("vq_ready"), groupElement("num"));
    /** Offset of {@code vq_ready.ready}. */
    public static final long VQ_READY_READY =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("vq_ready"), groupElement("ready"));

    private VduseDevRequest() {}

    /** The {@code type} of the message at the start of {@code segment}. */
    public static int type(MemorySegment segment) {
        return segment.get(U32, TYPE);
    }

    /** The {@code request_id} of the message at the start of {@code segment}. */
    public static int requestId(MemorySegment segment) {
        return segment.get(U32, REQUEST_ID);
    }
}
