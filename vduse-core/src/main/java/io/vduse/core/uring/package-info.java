/**
 * An io_uring engine ({@code io_uring(7)}) on the Foreign Function &amp; Memory API: one
 * {@link io.vduse.core.uring.IoUring} per thread that owns it, submission entries written
 * straight into the ring the kernel maps, completions reaped without allocation; and
 * {@link io.vduse.core.uring.Availability}, whether this process may use io_uring at all and,
 * if not, why.
 *
 * <p>It lives in vduse-core, not in a module of its own, because every device depends on core
 * already, because core owns the native layer whose errno capture it reuses (the three io_uring
 * system calls sit beside the others in {@code io.vduse.core.internal.linux}), and because a
 * ring's completions are reaped on core's queue threads: the thread that pops a request from a
 * virtqueue submits its I/O and reaps its completion, with no hand-off between threads.
 */
package io.vduse.core.uring;
