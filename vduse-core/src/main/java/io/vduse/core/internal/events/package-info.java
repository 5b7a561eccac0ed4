/**
 * The SDK's JDK Flight Recorder events. The classes are internal; their names ({@code io.vduse.*})
 * and fields are the stable part, what a recording is configured and read by: enable them by name
 * ({@code Recording.enable("io.vduse.ControlMessage")}, a {@code .jfc} file,
 * {@code jfr print --events io.vduse.*}). The README's "Observability" section lists them.
 *
 * <p>Each is made where its event happens and committed only after {@code shouldCommit()}, so a
 * disabled event costs an object on the control path and nothing else; the per-request event
 * ({@link SlowRequest}) is reused per ring slot, so it costs no allocation at all.
 */
package io.vduse.core.internal.events;
