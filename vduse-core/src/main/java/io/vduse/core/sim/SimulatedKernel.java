package io.vduse.core.sim;

import io.vduse.api.Vduse;
import io.vduse.api.VduseDevConfig;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.VduseKernel;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An in-process model of the kernel's VDUSE module ({@code drivers/vdpa/vdpa_user/vduse_dev.c}),
 * behind the same {@link VduseKernel} seam as the real one: the same ioctls with the same checks
 * and errnos, the same message bytes, real eventfds for kicks and real memfd descriptors from
 * {@code IOTLB_GET_FD}. A device runs against it without root or a kernel module.
 */
public final class SimulatedKernel implements VduseKernel {

    private final long apiVersion;
    private final Duration messageTimeout;
    private final Map<String, SimulatedDevice> devices = new ConcurrentHashMap<>();

    /** A kernel answering API version 0 (as Linux up to 6.x does), with a 30 s message time-out. */
    public SimulatedKernel() {
        this(Vduse.API_VERSION_0, Duration.ofSeconds(Vduse.DEFAULT_MSG_TIMEOUT_SECONDS));
    }

    /**
     * A kernel with the given highest API version and message time-out.
     *
     * @param apiVersion what {@code VDUSE_GET_API_VERSION} answers
     * @param messageTimeout how long a control message waits for the device before the device
     *     is marked broken ({@code msg_timeout} in sysfs)
     */
    public SimulatedKernel(long apiVersion, Duration messageTimeout) {
        this.apiVersion = apiVersion;
        this.messageTimeout = messageTimeout;
    }

    long apiVersion() {
        return apiVersion;
    }

    @Override
    public VduseFile openControl() {
        return new SimulatedControlFile(this);
    }

    @Override
    public VduseFile openDevice(String name) throws ErrnoException {
        SimulatedDevice device = devices.get(name);
        if (device == null) {
            throw new ErrnoException("open /dev/vduse/" + name, Errno.ENOENT);
        }
        device.open();
        return new SimulatedDeviceFile(device);
    }

    @Override
    public boolean deviceExists(String name) {
        return devices.containsKey(name);
    }

    @Override
    public String description() {
        return "simulated";
    }

    void create(VduseDevConfig config, boolean reservedBitsSet, long fileApiVersion) throws ErrnoException {
        var violation = DeviceRules.violation(config, reservedBitsSet, fileApiVersion);
        if (violation.isPresent()) {
            throw new ErrnoException("VDUSE_CREATE_DEV " + config.name() + ": " + violation.get(), Errno.EINVAL);
        }
        SimulatedDevice device = new SimulatedDevice(config, fileApiVersion, messageTimeout);
        if (devices.putIfAbsent(config.name(), device) != null) {
            throw new ErrnoException("VDUSE_CREATE_DEV " + config.name(), Errno.EEXIST);
        }
    }

    void destroy(String name) throws ErrnoException {
        SimulatedDevice device = devices.get(name);
        if (device == null) {
            throw new ErrnoException("VDUSE_DESTROY_DEV " + name, Errno.EINVAL);
        }
        synchronized (device) {
            if (device.isAttached() || device.isOpen()) {
                throw new ErrnoException("VDUSE_DESTROY_DEV " + name, Errno.EBUSY);
            }
            devices.remove(name);
        }
        device.destroy();
    }

    /** The kernel's model of a device, for the simulated driver; null if there is none. */
    SimulatedDevice device(String name) {
        return devices.get(name);
    }
}
