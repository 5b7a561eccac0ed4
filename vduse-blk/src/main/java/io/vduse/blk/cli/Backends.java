package io.vduse.blk.cli;

import io.vduse.blk.BlockBackend;
import io.vduse.blk.FileBackend;
import io.vduse.blk.MemoryBackend;
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
}
