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

    /** {@code VDUSE_API_VERSION_NOT_ASKED}: neither read nor set on this file yet. */
    private static final long NOT_ASKED = -1;

    private final SimulatedKernel kernel;
    private long apiVersion = NOT_ASKED;
    private long vduseFeatures;

    SimulatedControlFile(SimulatedKernel kernel) {
        this.kernel = kernel;
    }

    @Override
    public int ioctl(Ioctl request, MemorySegment argument) throws ErrnoException {
        long number = request.request();
        SimulatedKernel.Release release = kernel.release();
        if (number == VduseIoctls.GET_API_VERSION.request()) {
            // Linux 7.3 answers its highest version and holds this file to it; 6.12 only answers.
            if (release == SimulatedKernel.Release.LINUX_7_3 && apiVersion == NOT_ASKED) {
                apiVersion = release.apiVersion();
            }
            argument.set(Layouts.U64, 0, apiVersion == NOT_ASKED ? release.apiVersion() : apiVersion);
            return 0;
        }
        if (number == VduseIoctls.SET_API_VERSION.request()) {
            long version = argument.get(Layouts.U64, 0);
            if (Long.compareUnsigned(version, release.apiVersion()) > 0) {
                throw new ErrnoException("VDUSE_SET_API_VERSION " + version, Errno.EINVAL);
            }
            apiVersion = version;
            return 0;
        }
        if (release.vduseFeatures() != 0 && number == VduseIoctls.GET_FEATURES.request()) {
            argument.set(Layouts.U64, 0, release.vduseFeatures());
            return 0;
        }
        if (release.vduseFeatures() != 0 && number == VduseIoctls.SET_FEATURES.request()) {
            long features = argument.get(Layouts.U64, 0);
            if ((features & ~release.vduseFeatures()) != 0) {
                throw new ErrnoException("VDUSE_SET_FEATURES 0x" + Long.toHexString(features), Errno.EINVAL);
            }
            vduseFeatures = features;
            return 0;
        }
        if (number == VduseIoctls.CREATE_DEV.request()) {
            VduseDevConfig config;
            try {
                config = VduseDevConfig.readFrom(argument);
            } catch (IllegalArgumentException e) {
                throw new ErrnoException("VDUSE_CREATE_DEV: " + e.getMessage(), Errno.EINVAL);
            }
            kernel.create(config, VduseDevConfig.hasReservedBits(argument),
                    apiVersion == NOT_ASKED ? Vduse.API_VERSION_0 : apiVersion, vduseFeatures);
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
