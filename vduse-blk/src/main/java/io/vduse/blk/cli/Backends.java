package io.vduse.blk.cli;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.blk.BlkOptions;
import io.vduse.blk.BlockBackend;
import io.vduse.blk.FileBackend;
import io.vduse.blk.MemoryBackend;
import io.vduse.blk.nbd.NbdExport;
import java.io.IOException;
import java.nio.file.Path;

/** Opens the backend the command line asks for. */
final class Backends {

    private Backends() {}

    /**
     * {@code file} when given (created or grown to {@code size} when that is positive), else
     * memory of {@code size} bytes.
     */
    static BlockBackend open(Path file, long size, boolean readOnly, boolean direct) throws IOException {
        if (file == null) {
            return new MemoryBackend(size);
        }
        return FileBackend.open(file, readOnly, direct, size);
    }

    /**
     * The options for an NBD export: read-only if the server says so (or {@code --read-only}), and
     * a logical block size of the server's minimum block (512 at least), or {@code asked} when it is
     * a whole number of that minimum.
     *
     * @throws IOException naming the option, when the server's blocks do not fit
     */
    static BlkOptions nbdOptions(BlkOptions options, NbdExport export, Integer asked) throws IOException {
        int minimum = export.minimumBlock();
        if (minimum > BlkOptions.MAX_LOGICAL_BLOCK_SIZE) {
            throw new IOException("the NBD server's minimum block is %d bytes, above the largest logical block size, %d"
                    .formatted(minimum, BlkOptions.MAX_LOGICAL_BLOCK_SIZE));
        }
        int blockSize = Math.max(VirtioBlk.SECTOR_SIZE, minimum);
        if (asked != null) {
            if (asked % minimum != 0) {
                throw new IOException(("--logical-block-size %d is finer than the NBD server's minimum block, %d: "
                        + "give --logical-block-size %d, or leave it out").formatted(asked, minimum, blockSize));
            }
            blockSize = asked;
        }
        return options.withLogicalBlockSize(blockSize).withReadOnly(options.readOnly() || export.readOnly());
    }

    /**
     * The logical block size the device advertises: {@code asked} (null: not given), which with
     * {@code O_DIRECT} must be a whole number of the disk's alignment; not given, 512 or, with
     * {@code O_DIRECT} on a disk of larger blocks, that alignment, so that every request the driver
     * sends can go to the disk as it is.
     *
     * @throws IOException naming the option, when {@code O_DIRECT} cannot serve the size asked for
     */
    static int logicalBlockSize(BlockBackend backend, Integer asked) throws IOException {
        return logicalBlockSize(backend instanceof FileBackend f ? f.directAlignment() : 0, asked, backend.describe());
    }

    /** {@link #logicalBlockSize(BlockBackend, Integer)} for an alignment {@code need} (0: none) of {@code what}. */
    static int logicalBlockSize(long need, Integer asked, String what) throws IOException {
        if (need > BlkOptions.MAX_LOGICAL_BLOCK_SIZE) {
            throw new IOException("O_DIRECT on %s needs %d-byte alignment, above the largest logical block size, %d"
                    .formatted(what, need, BlkOptions.MAX_LOGICAL_BLOCK_SIZE));
        }
        if (asked == null) {
            return (int) Math.max(VirtioBlk.SECTOR_SIZE, need);
        }
        if (need > 0 && asked % need != 0) {
            throw new IOException(("--logical-block-size %d is finer than the %d-byte alignment O_DIRECT needs on %s: "
                    + "give --logical-block-size %d, or leave it out").formatted(asked, need, what, need));
        }
        return asked;
    }
}
