/**
 * A virtio-blk device in userspace: {@link io.vduse.blk.VirtioBlkDevice} answers the driver's
 * requests (IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES) from a {@link io.vduse.blk.BlockBackend}:
 * {@link io.vduse.blk.FileBackend} (a file or block device, positional IO, optional
 * {@code O_DIRECT}, {@code fdatasync} and {@code fallocate}) or {@link io.vduse.blk.MemoryBackend}.
 *
 * <p>Each queue has its own handler with preallocated scratch memory, so a request costs no
 * allocation; a backend error fails that request alone with {@code VIRTIO_BLK_S_IOERR}.
 */
package io.vduse.blk;
