/**
 * JMX views of running devices, for JConsole, JMC and the usual exporters: a {@link DeviceMXBean}
 * per device and a {@link QueueMXBean} per queue, registered in the platform MBean server while
 * the device is served, under the names {@link ObjectNames} makes
 * ({@code io.vduse:type=Device,name=NAME}, {@code io.vduse:type=Queue,device=NAME,index=I}).
 */
package io.vduse.core.management;
