package io.vduse.virtqueue;

/** The argument checks both driver-side layouts make before adding a chain. */
final class DriverChainCheck {

    private DriverChainCheck() {}

    /**
     * Checks that {@code readable + writable} buffers are described by the arrays and fit a queue
     * of {@code size}.
     *
     * @throws IllegalArgumentException naming the counts that do not fit
     */
    static void counts(long[] iovas, int[] lengths, int readable, int writable, int size) {
        int n = readable + writable;
        if (readable < 0 || writable < 0 || n == 0 || n > iovas.length || n > lengths.length) {
            throw new IllegalArgumentException("%d readable + %d writable buffers with %d addresses and %d lengths"
                    .formatted(readable, writable, iovas.length, lengths.length));
        }
        // No chain, direct or through a table, may be longer than the queue: on both layouts a
        // driver MUST NOT make a chain longer than the Queue Size.
        if (n > size) {
            throw new IllegalArgumentException("a chain of %d in a queue of size %d".formatted(n, size));
        }
    }
}
