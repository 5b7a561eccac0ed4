package io.vduse.core;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;

/**
 * What the SDK writes into a failed request's chain when the device's own failure handler wrote
 * nothing, so that no chain goes back to the driver looking like a success it never was.
 */
final class FailureAnswer {

    private final int deviceId;

    FailureAnswer(int deviceId) {
        this.deviceId = deviceId;
    }

    /**
     * The used length to complete a failed request with, after writing the device type's error
     * answer if the handler wrote nothing since {@code writtenBefore}.
     */
    long answer(DescriptorChain chain, long writtenBefore) {
        ChainWriter out = chain.writer();
        long written = Math.min(out.bytesWritten(), chain.writableLength());
        if (out.bytesWritten() != writtenBefore) {
            return written; // the handler answered
        }
        if (deviceId == VirtioDeviceId.BLOCK && out.remaining() >= 1) {
            // virtio-blk's driver reads the status from the last writable byte (5.2.6).
            out.skip(out.remaining() - 1);
            out.writeByte((byte) VirtioBlk.S_IOERR);
            return Math.min(out.bytesWritten(), chain.writableLength());
        }
        return 0;
    }
}
