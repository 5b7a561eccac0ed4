package io.vduse.virtqueue;

import io.vduse.api.VqState;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.iova.IovaMemory;
import java.lang.foreign.MemorySegment;

/**
 * The device's end of one virtqueue, split or packed: pops descriptor chains the driver made
 * available, pushes used elements, publishes them and says whether the driver wants an interrupt.
 *
 * <p>One thread works a queue (pop, push, publish, notifications); a popped
 * {@link DescriptorChain} may be read and written on another. The driver is not trusted: bad ring
 * contents break the queue with a {@link VirtqueueException}, after which pop, push, publish and
 * the notification calls throw that same exception until {@link #reset}. The device
 * side writes nothing but the used ring (split) or used descriptors (packed) and its own
 * notification-suppression fields.
 *
 * <p>A queue worker runs:
 * <pre>{@code
 * DeviceQueue q = DeviceQueue.create(memory, size, descIova, driverIova, deviceIova, features, state);
 * DescriptorChain chain = q.newChain();
 * do {
 *     q.disableNotifications();
 *     while (q.pop(chain)) {
 *         handle(chain.reader(), chain.writer());
 *         q.push(chain, (int) chain.writer().bytesWritten());
 *     }
 *     if (q.publish()) { injectInterrupt(); }
 * } while (q.enableNotifications());   // false: sleep until the next kick
 * }</pre>
 */
public sealed interface DeviceQueue permits DeviceQueueBase {

    /**
     * Makes the device end of a queue whose driver set it up at the given addresses.
     *
     * @param memory translates the ring areas (sliced once, here) and every buffer address
     * @param size the queue size: a power of two up to 32768 for split, 1 to 32768 for packed
     * @param descIova the descriptor table (split) or descriptor ring (packed)
     * @param driverIova the available ring (split) or driver event suppression area (packed)
     * @param deviceIova the used ring (split) or device event suppression area (packed)
     * @param features the negotiated features: {@link VirtioFeatures#RING_PACKED} chooses the
     *     layout; {@link VirtioFeatures#INDIRECT_DESC} and {@link VirtioFeatures#EVENT_IDX} are
     *     honoured
     * @param state where to start: {@link VqState.Split} or {@link VqState.Packed} as the layout
     *     says, e.g. from {@code VDUSE_VQ_GET_INFO}; {@code null} for a fresh queue
     * @throws VirtqueueException with {@link VirtqueueException.Reason#BAD_RING_SETUP},
     *     {@link VirtqueueException.Reason#IOVA_FAULT} or {@link VirtqueueException.Reason#BAD_STATE}
     * @throws IllegalArgumentException if the state is of the other layout
     */
    static DeviceQueue create(IovaMemory memory, int size, long descIova, long driverIova,
            long deviceIova, long features, VqState state) {
        if (RingAccess.has(features, VirtioFeatures.RING_PACKED)) {
            if (state != null && !(state instanceof VqState.Packed)) {
                throw new IllegalArgumentException("packed ring given split state " + state);
            }
            return new PackedDeviceQueue(memory, size, descIova, driverIova, deviceIova, features,
                    state == null ? PackedDeviceQueue.INITIAL : (VqState.Packed) state);
        }
        if (state != null && !(state instanceof VqState.Split)) {
            throw new IllegalArgumentException("split ring given packed state " + state);
        }
        return new SplitDeviceQueue(memory, size, descIova, driverIova, deviceIova, features,
                state == null ? new VqState.Split(0) : (VqState.Split) state);
    }

    /** The queue size. */
    int size();

    /** Whether this is a packed ring. */
    boolean isPacked();

    /** A chain flyweight for this queue, with room for the longest allowed chain; not for the hot path. */
    DescriptorChain newChain();

    /**
     * Fills {@code chain} with the next available chain and returns true, or returns false if the
     * driver has made none available.
     *
     * @throws VirtqueueException if the chain or the ring breaks a rule; the queue is then broken
     */
    boolean pop(DescriptorChain chain);

    /**
     * Adds the used element for a popped chain, not yet visible to the driver (see
     * {@link #publish()}).
     *
     * @param chain a chain this queue popped and that was not pushed since
     * @param writtenLength the bytes written into its writable buffers, at most
     *     {@link DescriptorChain#writableLength()}
     */
    void push(DescriptorChain chain, int writtenLength);

    /**
     * Makes every pushed used element visible to the driver at once and says whether the driver
     * must be interrupted for them, as {@code VIRTIO_F_EVENT_IDX} or the driver's flags decide.
     *
     * @return true if the device must notify the driver (inject the queue's interrupt)
     */
    boolean publish();

    /**
     * Copies ring descriptor {@code i} (0 to {@link DescriptorChain#ringSlots()} - 1) of the chain
     * this packed queue popped last, as the driver wrote it (16 bytes in the ring's layout: addr,
     * len, id, flags), to {@code to} at {@code offset}: for an in-flight log that must be able to
     * make the chain again after the device's process died. Call it right after the pop, before
     * any push: the used position moves by the slots of whichever chains complete, so a used
     * descriptor may land on the slots of a chain still in flight, and the driver fills slots
     * anew as soon as it has seen them used.
     *
     * @throws UnsupportedOperationException on a split ring, whose descriptor table keeps a chain
     *     in place until the chain is used ({@link #resubmit} reads it there)
     */
    void copyRingDescriptor(DescriptorChain chain, int i, MemorySegment to, long offset);

    /**
     * Fills {@code chain} again with a chain that the device popped before a restart and never
     * returned, so that it is served again: on a split ring the chain of head {@code id}, read
     * anew from the descriptor table (which the driver leaves alone until the chain is used;
     * {@code descriptors} is not used and may be null); on a packed ring the chain made of the
     * {@code count} descriptors at {@code descriptors} (copies made by
     * {@link #copyRingDescriptor}, back to back), whose buffer id must be {@code id}. The
     * queue's position does not move: the state it was made from counts the chain as popped.
     *
     * @throws VirtqueueException if the chain breaks a rule, as {@link #pop} would, or the copies
     *     do not make one chain of exactly {@code count} descriptors with buffer id {@code id};
     *     the queue is then broken
     */
    void resubmit(DescriptorChain chain, int id, MemorySegment descriptors, int count);

    /** Asks the driver not to kick the queue; a hint the driver may ignore. */
    void disableNotifications();

    /**
     * Asks the driver to kick the queue for the next chain it makes available, then looks at the
     * ring once more.
     *
     * @return true if chains are already available: pop again instead of waiting for a kick
     */
    boolean enableNotifications();

    /**
     * Translates the ring areas afresh through the queue's memory, keeping the position and the
     * chains in flight: after an IOTLB update the old translation of the areas may be going away
     * while the driver keeps the ring where it was. Unpublished used elements stay pending.
     *
     * @throws VirtqueueException {@link VirtqueueException.Reason#IOVA_FAULT} or
     *     {@link VirtqueueException.Reason#BAD_RING_SETUP} if an area no longer translates; the
     *     queue is then broken
     */
    void remap();

    /**
     * Where the device is in the ring, as {@link #state()} says, packed into a long without
     * allocating: for a thread that publishes the state often and decodes it rarely
     * ({@link #decodeState}).
     */
    long stateWord();

    /**
     * Where the device pushes the next used element: on a split ring the used index (pushed
     * elements counted, published or not), on a packed ring the used index with the used wrap
     * counter in bit 15.
     */
    int usedIndex();

    /** The state a {@link #stateWord()} of a split or packed ring stands for. */
    static VqState decodeState(long word, boolean packed) {
        if (!packed) {
            return new VqState.Split((int) (word & 0xffff));
        }
        int avail = (int) (word & 0xffff);
        int used = (int) ((word >>> 16) & 0xffff);
        return new VqState.Packed(avail >>> 15, avail & 0x7fff, used >>> 15, used & 0x7fff);
    }

    /** Where the device is in the ring, for {@code VDUSE_GET_VQ_STATE} and reconnecting; allocates. */
    VqState state();

    /** The error that broke the queue, or null. */
    VirtqueueException failure();

    /**
     * Clears a failure and restarts at {@code state} over the same ring areas (pushed but
     * unpublished elements are dropped).
     *
     * @throws VirtqueueException {@link VirtqueueException.Reason#BAD_STATE} if the state does not fit
     */
    void reset(VqState state);
}
