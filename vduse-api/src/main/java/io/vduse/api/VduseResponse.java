package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;

/**
 * {@code struct vduse_dev_response}: the answer to a control message, written with
 * {@code write(2)} to {@code /dev/vduse/$NAME}.
 *
 * <pre>
 *   0 u32 request_id   the request's id
 *   4 u32 result       VDUSE_REQ_RESULT_OK or _FAILED
 *   8 u32 reserved[4]  must be zero, or the kernel answers EINVAL
 *  24 union, 128 bytes:
 *     vq_state { u32 index; union vq_state state; }   for GET_VQ_STATE
 *     u32 padding[32]
 * </pre>
 *
 * @param requestId the id of the request answered
 * @param result {@link Vduse#REQ_RESULT_OK} or {@link Vduse#REQ_RESULT_FAILED}
 * @param vqIndex the virtqueue of {@code state}; 0 without one
 * @param state the virtqueue state for {@code GET_VQ_STATE}, or {@code null} for none
 */
public record VduseResponse(int requestId, int result, int vqIndex, VqState state) {

    private static final UnionLayout PAYLOAD = MemoryLayout.unionLayout(
            MemoryLayout.structLayout(U32.withName("index"), VqState.LAYOUT.withName("state"))
                    .withName("vq_state"),
            MemoryLayout.sequenceLayout(32, U32).withName("padding"));

    /** The struct, 152 bytes. */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U32.withName("request_id"),
            U32.withName("result"),
            MemoryLayout.sequenceLayout(4, U32).withName("reserved"),
            PAYLOAD.withName("payload"))
            .withName("vduse_dev_response");

    /** Size of a response: what one {@code write(2)} sends. */
    public static final long SIZE = LAYOUT.byteSize();

    /** Offset of {@code request_id}. */
    public static final long REQUEST_ID = LAYOUT.byteOffset(groupElement("request_id"));
    /** Offset of {@code result}. */
    public static final long RESULT = LAYOUT.byteOffset(groupElement("result"));
    /** Offset of {@code reserved}. */
    public static final long RESERVED = LAYOUT.byteOffset(groupElement("reserved"));
    /** Offset of {@code vq_state.index}. */
    public static final long VQ_STATE_INDEX =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("vq_state"), groupElement("index"));
    /** Offset of {@code vq_state}'s split or packed member. */
    public static final long VQ_STATE_STATE =
            LAYOUT.byteOffset(groupElement("payload"), groupElement("vq_state"), groupElement("state"));

    /** A success without payload. */
    public static VduseResponse ok(int requestId) {
        return new VduseResponse(requestId, Vduse.REQ_RESULT_OK, 0, null);
    }

    /** A failure. */
    public static VduseResponse failed(int requestId) {
        return new VduseResponse(requestId, Vduse.REQ_RESULT_FAILED, 0, null);
    }

    /** A success carrying a virtqueue's state, the answer to {@code GET_VQ_STATE}. */
    public static VduseResponse vqState(int requestId, int vqIndex, VqState state) {
        return new VduseResponse(requestId, Vduse.REQ_RESULT_OK, vqIndex, state);
    }

    /** Writes the response into the first {@link #SIZE} bytes of {@code segment}, the rest zero. */
    public void writeTo(MemorySegment segment) {
        MemorySegment s = segment.asSlice(0, SIZE);
        s.fill((byte) 0);
        s.set(U32, REQUEST_ID, requestId);
        s.set(U32, RESULT, result);
        s.set(U32, VQ_STATE_INDEX, vqIndex);
        if (state != null) {
            state.writeTo(s, VQ_STATE_STATE);
        }
    }

    /**
     * Reads a response as userspace wrote it.
     *
     * @param packed which member of the state union to read, if {@code withState}
     * @param withState whether the response answers {@code GET_VQ_STATE}
     */
    public static VduseResponse readFrom(MemorySegment segment, boolean withState, boolean packed) {
        return new VduseResponse(
                segment.get(U32, REQUEST_ID),
                segment.get(U32, RESULT),
                segment.get(U32, VQ_STATE_INDEX),
                withState ? VqState.readFrom(segment, VQ_STATE_STATE, packed) : null);
    }

    /** Whether any {@code reserved} word of the response at {@code segment} is non-zero. */
    public static boolean hasReservedBits(MemorySegment segment) {
        for (int i = 0; i < 4; i++) {
            if (segment.get(U32, RESERVED + 4L * i) != 0) {
                return true;
            }
        }
        return false;
    }
}
