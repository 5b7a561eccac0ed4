package io.vduse.api;

import static io.vduse.api.Layouts.U32;
import static io.vduse.api.Layouts.U64;
import static io.vduse.api.Layouts.U8;

import java.lang.foreign.MemorySegment;

/**
 * A control message from the kernel, decoded from {@link VduseDevRequest}'s bytes.
 *
 * <p>Decoding never fails on content: a type this code does not know becomes {@link Unknown},
 * which a message loop answers with {@link Vduse#REQ_RESULT_FAILED} and goes on. Only a buffer
 * shorter than a message is refused, since that is the caller's bug, not the kernel's.
 */
public sealed interface VduseRequest {

    /** The id the response must echo. */
    int requestId();

    /**
     * Writes this message as the kernel lays it out into the first {@link VduseDevRequest#SIZE}
     * bytes of {@code segment}, everything else zero.
     *
     * @param apiVersion the device's API version; with v0, fields v1 added are left zero
     */
    void encode(MemorySegment segment, long apiVersion);

    /**
     * Decodes the message at the start of {@code segment}.
     *
     * @param apiVersion the API version the device was created with; with v0 the v1 fields
     *     (the ASID of {@code UPDATE_IOTLB}) are not read
     * @throws IllegalArgumentException if the segment is shorter than one message
     */
    static VduseRequest decode(MemorySegment segment, long apiVersion) {
        if (segment.byteSize() < VduseDevRequest.SIZE) {
            throw new IllegalArgumentException("a VDUSE message is %d bytes, got %d"
                    .formatted(VduseDevRequest.SIZE, segment.byteSize()));
        }
        int type = VduseDevRequest.type(segment);
        int id = VduseDevRequest.requestId(segment);
        return switch (type) {
            case Vduse.REQ_GET_VQ_STATE -> new GetVqState(id, segment.get(U32, VduseDevRequest.VQ_STATE_INDEX));
            case Vduse.REQ_SET_STATUS -> new SetStatus(id,
                    Byte.toUnsignedInt(segment.get(U8, VduseDevRequest.STATUS)));
            case Vduse.REQ_UPDATE_IOTLB -> new UpdateIotlb(id,
                    segment.get(U64, VduseDevRequest.IOVA_START),
                    segment.get(U64, VduseDevRequest.IOVA_LAST),
                    apiVersion >= Vduse.API_VERSION_1 ? segment.get(U32, VduseDevRequest.IOVA_ASID) : 0);
            case Vduse.REQ_SET_VQ_GROUP_ASID -> new SetVqGroupAsid(id,
                    segment.get(U32, VduseDevRequest.GROUP_ASID_GROUP),
                    segment.get(U32, VduseDevRequest.GROUP_ASID_ASID));
            case Vduse.REQ_SET_VQ_READY -> new SetVqReady(id,
                    segment.get(U32, VduseDevRequest.VQ_READY_NUM),
                    segment.get(U32, VduseDevRequest.VQ_READY_READY) != 0);
            case Vduse.REQ_SUSPEND -> new Suspend(id);
            default -> new Unknown(id, type);
        };
    }

    private static MemorySegment header(MemorySegment segment, int type, int requestId) {
        MemorySegment s = segment.asSlice(0, VduseDevRequest.SIZE);
        s.fill((byte) 0);
        s.set(U32, VduseDevRequest.TYPE, type);
        s.set(U32, VduseDevRequest.REQUEST_ID, requestId);
        return s;
    }

    /**
     * {@code VDUSE_GET_VQ_STATE}: report where a virtqueue stands.
     *
     * @param requestId id to echo
     * @param vqIndex the virtqueue; unchecked, may be out of range
     */
    record GetVqState(int requestId, int vqIndex) implements VduseRequest {
        @Override
        public void encode(MemorySegment segment, long apiVersion) {
            header(segment, Vduse.REQ_GET_VQ_STATE, requestId).set(U32, VduseDevRequest.VQ_STATE_INDEX, vqIndex);
        }
    }

    /**
     * {@code VDUSE_SET_STATUS}: the driver wrote the device status.
     *
     * @param requestId id to echo
     * @param status the new status bits, see {@link io.vduse.api.virtio.VirtioStatus}
     */
    record SetStatus(int requestId, int status) implements VduseRequest {
        @Override
        public void encode(MemorySegment segment, long apiVersion) {
            header(segment, Vduse.REQ_SET_STATUS, requestId).set(U8, VduseDevRequest.STATUS, (byte) status);
        }
    }

    /**
     * {@code VDUSE_UPDATE_IOTLB}: mappings inside {@code [start, last]} changed; unmap what is
     * cached there and look it up again on the next miss.
     *
     * @param requestId id to echo
     * @param start first IOVA of the range
     * @param last last IOVA of the range, inclusive
     * @param asid the address space (API v1; 0 with v0)
     */
    record UpdateIotlb(int requestId, long start, long last, int asid) implements VduseRequest {
        @Override
        public void encode(MemorySegment segment, long apiVersion) {
            MemorySegment s = header(segment, Vduse.REQ_UPDATE_IOTLB, requestId);
            s.set(U64, VduseDevRequest.IOVA_START, start);
            s.set(U64, VduseDevRequest.IOVA_LAST, last);
            if (apiVersion >= Vduse.API_VERSION_1) {
                s.set(U32, VduseDevRequest.IOVA_ASID, asid);
            }
        }
    }

    /**
     * {@code VDUSE_SET_VQ_GROUP_ASID} (API v1): a virtqueue group now translates through another
     * address space.
     *
     * @param requestId id to echo
     * @param group the virtqueue group
     * @param asid the address space
     */
    record SetVqGroupAsid(int requestId, int group, int asid) implements VduseRequest {
        @Override
        public void encode(MemorySegment segment, long apiVersion) {
            MemorySegment s = header(segment, Vduse.REQ_SET_VQ_GROUP_ASID, requestId);
            s.set(U32, VduseDevRequest.GROUP_ASID_GROUP, group);
            s.set(U32, VduseDevRequest.GROUP_ASID_ASID, asid);
        }
    }

    /**
     * {@code VDUSE_SET_VQ_READY} (sent only to a device created with {@link Vduse#F_QUEUE_READY}):
     * the driver enabled or disabled a virtqueue. The kernel changes the queue's ready state only
     * after an OK answer, and breaks the device on a FAILED one.
     *
     * @param requestId id to echo
     * @param vqIndex the virtqueue; unchecked, may be out of range
     * @param ready whether the queue is now enabled (any non-zero {@code ready} word)
     */
    record SetVqReady(int requestId, int vqIndex, boolean ready) implements VduseRequest {
        @Override
        public void encode(MemorySegment segment, long apiVersion) {
            MemorySegment s = header(segment, Vduse.REQ_SET_VQ_READY, requestId);
            s.set(U32, VduseDevRequest.VQ_READY_NUM, vqIndex);
            s.set(U32, VduseDevRequest.VQ_READY_READY, ready ? 1 : 0);
        }
    }

    /**
     * {@code VDUSE_SUSPEND} (sent only to a device created with {@link Vduse#F_SUSPEND}): stop
     * taking chains from every queue. After an OK answer the kernel drops kicks and interrupt
     * injections until the driver resets the device; there is no resume message. The queue
     * states reported afterwards ({@code GET_VQ_STATE}) must be exact.
     *
     * @param requestId id to echo
     */
    record Suspend(int requestId) implements VduseRequest {
        @Override
        public void encode(MemorySegment segment, long apiVersion) {
            header(segment, Vduse.REQ_SUSPEND, requestId);
        }
    }

    /**
     * A message of a type this code does not know. Answer it with
     * {@link Vduse#REQ_RESULT_FAILED}.
     *
     * @param requestId id to echo
     * @param type the type as the kernel sent it
     */
    record Unknown(int requestId, int type) implements VduseRequest {
        @Override
        public void encode(MemorySegment segment, long apiVersion) {
            header(segment, type, requestId);
        }
    }
}
