/**
 * The VDUSE userspace API of Linux ({@code include/uapi/linux/vduse.h}): ioctl numbers, struct
 * layouts with typed access, and the control messages exchanged on {@code /dev/vduse/$NAME}.
 */
package io.vduse.api;
