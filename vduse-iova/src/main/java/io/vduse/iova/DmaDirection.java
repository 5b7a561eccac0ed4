package io.vduse.iova;

/**
 * Which way data of a streaming DMA mapping flows, as the driver declares it
 * ({@code enum dma_data_direction}); it decides when {@link IovaDomain} copies between the
 * driver's buffer and its bounce page.
 */
public enum DmaDirection {
    /** The device reads the buffer: copied to the bounce page on map and on sync for device. */
    TO_DEVICE,
    /** The device writes the buffer: copied back on unmap and on sync for CPU. */
    FROM_DEVICE,
    /** Both: copied in on map and sync for device, back on unmap and sync for CPU. */
    BIDIRECTIONAL;

    /** Whether the driver's data goes to the bounce page on map and on sync for device. */
    public boolean copiesToDevice() {
        return this != FROM_DEVICE;
    }

    /** Whether the bounce page goes back to the driver's buffer on unmap and on sync for CPU. */
    public boolean copiesFromDevice() {
        return this != TO_DEVICE;
    }
}
