package io.vduse.core.sim;

import io.vduse.api.Ioctl;
import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.VduseIoctls;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/** {@code /dev/vduse/control} of the simulated kernel. */
final class SimulatedControlFile implements VduseFile {

    private final SimulatedKernel kernel;
    private long apiVersion = Vduse.API_VERSION_0;

    SimulatedControlFile(SimulatedKernel kernel) {
        this.kernel = kernel;
    }

    @Override
    public int ioctl(Ioctl request, MemorySegment argument) throws ErrnoException {
        long number = request.request();
        if (number == VduseIoctls.GET_API_VERSION.request()) {
            argument.set(Layouts.U64, 0, kernel.apiVersion());
            return 0;
        }
        if (number == VduseIoctls.SET_API_VERSION.request()) {
            long version = argument.get(Layouts.U64, 0);
            if (Long.compareUnsigned(version, kernel.apiVersion()) > 0) {
                throw new ErrnoException("VDUSE_SET_API_VERSION " + version, Errno.EINVAL);
            }
            apiVersion = version;
            return 0;
        }
        if (number == VduseIoctls.CREATE_DEV.request()) {
            VduseDevConfig config;
            try {
                config = VduseDevConfig.readFrom(argument);
            } catch (IllegalArgumentException e) {
                throw new ErrnoException("VDUSE_CREATE_DEV: " + e.getMessage(), Errno.EINVAL);
            }
            kernel.create(config, VduseDevConfig.hasReservedBits(argument), apiVersion);
            return 0;
        }
        if (number == VduseIoctls.DESTROY_DEV.request()) {
            byte[] raw = argument.asSlice(0, Vduse.NAME_MAX).toArray(Layouts.U8);
            int length = 0;
            while (length < raw.length && raw[length] != 0) {
                length++;
            }
            kernel.destroy(new String(raw, 0, length, StandardCharsets.UTF_8));
            return 0;
        }
        // Linux answers an ioctl it does not know on the control device with EINVAL, not ENOTTY.
        throw new ErrnoException(request.name() + " on the simulated control device", Errno.EINVAL);
    }

    @Override
    public long read(MemorySegment buffer, long length) throws ErrnoException {
        throw new ErrnoException("read from /dev/vduse/control", Errno.EINVAL);
    }

    @Override
    public long write(MemorySegment buffer, long length) throws ErrnoException {
        throw new ErrnoException("write to /dev/vduse/control", Errno.EINVAL);
    }

    @Override
    public boolean awaitReadable(int timeoutMillis) {
        return false;
    }

    @Override
    public int fd() {
        return -1;
    }

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "simulated /dev/vduse/control";
    }
}
