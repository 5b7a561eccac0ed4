package io.vduse.core.internal.linux;

import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.VduseKernel;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@link VduseKernel} over the real character devices under {@code /dev/vduse}. */
public final class LinuxVduseKernel implements VduseKernel {

    /** The one instance. */
    public static final LinuxVduseKernel INSTANCE = new LinuxVduseKernel(Path.of("/dev/vduse"));

    private final Path directory;

    private LinuxVduseKernel(Path directory) {
        this.directory = directory;
    }

    @Override
    public VduseFile openControl() throws ErrnoException {
        return open(directory.resolve("control"));
    }

    @Override
    public VduseFile openDevice(String name) throws ErrnoException {
        if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("not a VDUSE device name: '" + name + "'");
        }
        return open(directory.resolve(name));
    }

    private static VduseFile open(Path path) throws ErrnoException {
        // O_NONBLOCK: the message loop waits in poll(2), so that it can also watch its stop signal.
        int fd = Syscalls.open(path.toString(), Syscalls.O_RDWR | Syscalls.O_CLOEXEC | Syscalls.O_NONBLOCK, 0);
        return new LinuxVduseFile(fd, path.toString());
    }

    @Override
    public boolean deviceExists(String name) {
        return Files.exists(directory.resolve(name));
    }

    @Override
    public String description() {
        return "linux";
    }
}
