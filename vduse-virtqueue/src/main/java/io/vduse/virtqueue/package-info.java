/**
 * Split and packed virtqueues, device side and driver side.
 */
package io.vduse.virtqueue;
