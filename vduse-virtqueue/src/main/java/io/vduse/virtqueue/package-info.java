/**
 * Split and packed virtqueues (virtio 1.2, 2.7 and 2.8), device side and driver side.
 *
 * <ul>
 *   <li>{@link io.vduse.virtqueue.DeviceQueue}: the device's end of a queue over ring memory
 *       reached through an {@link io.vduse.iova.IovaMemory}; pops
 *       {@link io.vduse.virtqueue.DescriptorChain}s, read with a
 *       {@link io.vduse.virtqueue.ChainReader} and written with a
 *       {@link io.vduse.virtqueue.ChainWriter}, then pushes and publishes used elements and says
 *       when the driver wants an interrupt.</li>
 *   <li>{@link io.vduse.virtqueue.DriverQueue}: the driver's end, for the simulated kernel,
 *       tests and benchmarks.</li>
 *   <li>{@link io.vduse.virtqueue.VirtqueueException}: what a driver that breaks the rules gets
 *       the device queue into; the queue stops until it is reset.</li>
 * </ul>
 *
 * <p>Ring areas are sliced once when a queue is made; buffers are translated piece by piece as
 * they are read and written. The per-request path allocates nothing: chains, readers and writers
 * are flyweights re-pointed by every pop.
 */
package io.vduse.virtqueue;
