package io.vduse.core;

import io.vduse.api.Vduse;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.internal.MessageLoop;
import io.vduse.core.management.DeviceMXBean;
import io.vduse.core.management.ObjectNames;
import io.vduse.core.management.QueueMXBean;
import java.lang.System.Logger.Level;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.StandardMBean;

/**
 * A device's MXBeans in the platform MBean server: one {@link DeviceMXBean}, one
 * {@link QueueMXBean} per queue, and those the device's author adds
 * ({@link VduseDevice#addManagementBean}), registered when the device starts and unregistered when
 * this process stops serving it. The platform MBean server is made on a thread of its own, as it
 * takes a second or more on a loaded machine (far more under emulation), so that the device's
 * start does not wait for it. A name taken already (two devices of one name, on two simulated
 * kernels of one process) leaves that bean out, said once in the log: the device runs on.
 */
final class ManagementBeans {

    private static final System.Logger LOG = System.getLogger(ManagementBeans.class.getName());

    /** A bean waiting for the MBean server. */
    private record Bean(ObjectName name, Object bean) {}

    private final VduseDevice device;
    private final boolean enabled;
    /** Beans added before the server was there. */
    private final List<Bean> pending = new ArrayList<>();
    /** The names this device registered, to unregister exactly those. */
    private final List<ObjectName> registered = new ArrayList<>();
    /** The platform MBean server once the registering thread has it; null before. */
    private MBeanServer server;
    private boolean stopped;

    ManagementBeans(VduseDevice device, boolean enabled) {
        this.device = device;
        this.enabled = enabled;
    }

    /** Registers the device's and its queues' beans, in the background. */
    void start() {
        add(ObjectNames.device(device.name()), DeviceMXBean.class, new DeviceBean(device));
        for (int i = 0; i < device.queueCount(); i++) {
            add(ObjectNames.queue(device.name(), i), QueueMXBean.class, new QueueBean(device, i));
        }
        if (!enabled) {
            return;
        }
        // Not named vduse-NAME-*: the benchmarks count the allocations of the device's threads by that prefix.
        Thread.ofPlatform().daemon(true).name("vduse-jmx-" + device.name()).start(() -> {
            MBeanServer platform = ManagementFactory.getPlatformMBeanServer();
            synchronized (this) {
                if (stopped) {
                    return;
                }
                server = platform;
                pending.forEach(this::register);
                pending.clear();
            }
        });
    }

    /** Registers {@code bean} as an MXBean of interface {@code type} under {@code name}, with the device's. */
    synchronized <T> void add(ObjectName name, Class<T> type, T bean) {
        if (!enabled || stopped) {
            return;
        }
        Bean wrapped = new Bean(name, new StandardMBean(bean, type, true));
        if (server == null) {
            pending.add(wrapped);
        } else {
            register(wrapped);
        }
    }

    private void register(Bean bean) {
        try {
            server.registerMBean(bean.bean(), bean.name());
            registered.add(bean.name());
        } catch (JMException e) {
            LOG.log(Level.WARNING, "{0}: no JMX bean {1}: {2}", device.name(), bean.name(), e.toString());
        }
    }

    /** Unregisters what was registered; nothing is registered afterwards. */
    synchronized void stop() {
        stopped = true;
        pending.clear();
        for (ObjectName name : registered) {
            try {
                server.unregisterMBean(name);
            } catch (InstanceNotFoundException e) {
                // Someone else unregistered it: nothing left to do.
            } catch (JMException e) {
                LOG.log(Level.WARNING, "{0}: cannot unregister JMX bean {1}: {2}", device.name(), name, e.toString());
            }
        }
        registered.clear();
    }

    /** The device's attributes, read from the device each time. */
    private record DeviceBean(VduseDevice device) implements DeviceMXBean {

        @Override
        public String getName() {
            return device.name();
        }

        @Override
        public int getDeviceId() {
            return device.deviceId();
        }

        @Override
        public int getStatus() {
            return device.status();
        }

        @Override
        public String getStatusText() {
            return VirtioStatus.describe(device.status());
        }

        @Override
        public long getOfferedFeatures() {
            return device.offeredFeatures();
        }

        @Override
        public long getNegotiatedFeatures() {
            return device.negotiatedFeatures();
        }

        @Override
        public long getApiVersion() {
            return device.apiVersion();
        }

        @Override
        public long getVduseFeatures() {
            return device.vduseFeatures();
        }

        @Override
        public int getQueueCount() {
            return device.queueCount();
        }

        @Override
        public long getMessagesHandled() {
            long total = 0;
            for (int type = 0; type <= Vduse.REQ_SUSPEND + 1; type++) {
                total += device.controlMessages(type);
            }
            return total;
        }

        @Override
        public Map<String, Long> getMessagesByType() {
            Map<String, Long> byType = new LinkedHashMap<>();
            // REQ_SUSPEND + 1 is where every type the SDK does not know is counted.
            for (int type = 0; type <= Vduse.REQ_SUSPEND + 1; type++) {
                byType.put(MessageLoop.typeName(type), device.controlMessages(type));
            }
            return byType;
        }

        @Override
        public boolean isSuspended() {
            return device.suspended();
        }

        @Override
        public boolean isBroken() {
            return device.broken();
        }

        @Override
        public boolean isReconnected() {
            return device.reconnected();
        }

        @Override
        public int getRetiredMappings() {
            return device.retiredMappings();
        }
    }

    /** A queue's attributes, read from its worker each time. */
    private record QueueBean(VduseDevice device, int index) implements QueueMXBean {

        private QueueWorker worker() {
            return device.worker(index);
        }

        @Override
        public String getDevice() {
            return device.name();
        }

        @Override
        public int getIndex() {
            return index;
        }

        @Override
        public boolean isRunning() {
            return device.queueRunning(index);
        }

        @Override
        public int getRingSize() {
            return worker().ringSize();
        }

        @Override
        public int getAddressSpace() {
            return device.queueAddressSpace(index);
        }

        @Override
        public long getRequests() {
            return worker().completed();
        }

        @Override
        public long getUsedBytes() {
            return worker().usedBytes();
        }

        @Override
        public int getInFlight() {
            return worker().inFlight();
        }

        @Override
        public long getKicks() {
            return worker().kicks();
        }

        @Override
        public long getInterrupts() {
            return worker().interrupts();
        }

        @Override
        public long getWaits() {
            return worker().waits();
        }

        @Override
        public long getHandlerFailures() {
            return worker().handlerFailures();
        }

        @Override
        public long getCancelled() {
            return worker().cancelled();
        }

        @Override
        public long getResubmitted() {
            return worker().resubmitted();
        }

        @Override
        public String getBrokenReason() {
            return worker().brokenReason();
        }
    }
}
