package io.vduse.core.management;

import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

/**
 * The JMX names of devices and their queues, in the {@value #DOMAIN} domain. A device name is
 * used as it is unless it holds a character an {@link ObjectName} value may not ({@code , = : " * ?},
 * a backslash or a line break): then it is quoted ({@link ObjectName#quote}), so every name the
 * kernel takes has a name here, and two devices with different names never share one.
 */
public final class ObjectNames {

    /** The domain of every name here. */
    public static final String DOMAIN = "io.vduse";

    private ObjectNames() {}

    /** {@code io.vduse:type=Device,name=NAME}: the device's {@link DeviceMXBean}. */
    public static ObjectName device(String name) {
        return parse(DOMAIN + ":type=Device,name=" + value(name));
    }

    /** {@code io.vduse:type=Queue,device=NAME,index=I}: the {@link QueueMXBean} of queue {@code index}. */
    public static ObjectName queue(String device, int index) {
        return queue("Queue", device, index);
    }

    /**
     * {@code io.vduse:type=TYPE,device=NAME,index=I}: a per-queue bean of a device's own (the
     * block device's {@code BlkQueue}, say), beside the SDK's.
     *
     * @throws IllegalArgumentException if {@code type} is not a plain word
     */
    public static ObjectName queue(String type, String device, int index) {
        if (type.isEmpty() || !type.chars().allMatch(Character::isLetterOrDigit)) {
            throw new IllegalArgumentException("bean type must be letters and digits: " + type);
        }
        return parse(DOMAIN + ":type=" + type + ",device=" + value(device) + ",index=" + index);
    }

    /** {@code name} as a key's value: as it is, or quoted when it holds a character that needs it. */
    static String value(String name) {
        if (name.isEmpty() || name.chars().anyMatch(c -> ",=:\"*?\\\n".indexOf(c) >= 0)) {
            return ObjectName.quote(name);
        }
        return name;
    }

    private static ObjectName parse(String name) {
        try {
            return new ObjectName(name);
        } catch (MalformedObjectNameException e) {
            throw new IllegalArgumentException("not a valid JMX name: " + name, e);
        }
    }
}
