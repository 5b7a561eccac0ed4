package io.vduse.blk;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseDevice;
import io.vduse.core.VduseException;
import io.vduse.core.VduseKernel;
import io.vduse.core.management.ObjectNames;
import io.vduse.core.uring.IoUring;
import io.vduse.blk.nbd.NbdBackend;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A virtio-blk device on VDUSE, serving a {@link BlockBackend}.
 *
 * <pre>{@code
 * try (FileBackend disk = FileBackend.open(Path.of("disk.img"), false, false, 1L << 30);
 *      VirtioBlkDevice blk = VirtioBlkDevice.start(BlkOptions.defaults("vduse0"), disk, VduseKernel.linux())) {
 *     // vdpa dev add name vduse0 mgmtdev vduse   ->  /dev/vda
 * }
 * }</pre>
 *
 * <p>The capacity is the backend's size rounded down to whole logical blocks. {@link #resize}
 * and {@link #refreshCapacity} change it while the device runs and tell the driver through a
 * config interrupt. {@link #close()} destroys the device in the kernel; it does not close the
 * backend, which belongs to the caller.
 */
public final class VirtioBlkDevice implements AutoCloseable {

    /**
     * {@link #inlineLimit()} for a file in memory: a copy of up to 64 KiB costs about what handing
     * it to another thread does (a wake-up and a context switch), so those stay on the queue's
     * thread, and larger ones are copied on several CPUs at once.
     */
    public static final long IN_MEMORY_INLINE_LIMIT = 64 * 1024;

    private final BlkOptions options;
    private final BlockBackend backend;
    private final DiskState disk;
    private final QueueCounters[] counters;
    private final Arena arena;
    private final VduseDevice device;
    private final BlkAio aio;
    /** {@link #inlineLimit()}. */
    private final long inlineLimit;
    /** Each queue's io_uring handler with {@link BlkAio#IO_URING}; nulls otherwise. */
    private final UringQueueHandler[] uring;
    private final String aioNote;
    /** The queues' I/O threads with {@link BlkOptions#ioThreads()} above 0, stopped at close or detach. */
    private final List<ThreadedQueueHandler> threaded = new CopyOnWriteArrayList<>();
    /** Whether {@link #detach()} left the device in the kernel: {@link #close()} must not destroy it. */
    private boolean detached;
    /** Whether the device was destroyed in the kernel. */
    private boolean destroyed;

    private VirtioBlkDevice(BlkOptions options, BlockBackend backend, VduseKernel kernel) throws VduseException {
        this.options = options;
        this.backend = backend;
        this.disk = new DiskState(options, backend.size());
        this.counters = new QueueCounters[options.numQueues()];
        this.arena = Arena.ofShared();
        for (int i = 0; i < counters.length; i++) {
            counters[i] = new QueueCounters();
        }
        BlkAio chosen = options.aio();
        String note = null;
        long inline = 0;
        if (backend instanceof NbdBackend) {
            note = "the backend is an NBD server: --aio does not apply, every request is on the wire at once "
                    + "and answered as its reply comes";
        } else if (chosen == BlkAio.IO_URING && !(backend instanceof FileBackend)) {
            chosen = BlkAio.SYNC; // memory never waits: nothing for a ring to overlap
            note = "the backend is not a file or block device (" + backend.describe() + "): aio sync";
        } else if (chosen == BlkAio.IO_URING && ((FileBackend) backend).inMemory()) {
            // tmpfs takes no non-blocking reads: io_uring would hand each to a worker.
            chosen = BlkAio.THREADS;
            inline = IN_MEMORY_INLINE_LIMIT;
            note = "the file is in memory (tmpfs or ramfs), where io_uring hands every request to a kernel "
                    + "worker thread: requests up to " + (IN_MEMORY_INLINE_LIMIT >> 10) + " KiB are copied on "
                    + "the queues' threads, larger ones on " + BlkOptions.DEFAULT_IO_THREADS
                    + " I/O threads per queue, several at once";
        } else if (chosen == BlkAio.IO_URING && !IoUring.availability().available()) {
            chosen = BlkAio.THREADS;
            note = "no io_uring here (" + IoUring.availability().reason() + "): aio threads, "
                    + BlkOptions.DEFAULT_IO_THREADS + " per queue, instead";
        }
        this.aio = chosen;
        this.inlineLimit = inline;
        this.uring = new UringQueueHandler[options.numQueues()];
        this.aioNote = note;
        VirtioBlkConfig config = BlkConfigSpace.config(options, disk.capacityBytes());
        try {
            VduseDevice.Builder builder = VduseDevice.builder(options.name());
            if (options.apiVersion() != BlkOptions.HIGHEST_API_VERSION) {
                builder.apiVersion(options.apiVersion());
            }
            if (options.inflightDirectory() != null) {
                builder.inflightLog(options.inflightDirectory());
            }
            builder.kernel(kernel)
                    .deviceId(VirtioDeviceId.BLOCK)
                    .features(BlkConfigSpace.features(options))
                    .config(config.toBytes())
                    .queues(options.numQueues(), options.queueSize());
            if (backend instanceof NbdBackend nbd) {
                builder.asyncHandlers(index -> new NbdQueueHandler(disk, nbd, index, server(index), counters[index]));
            } else switch (aio) {
                case SYNC -> builder.handlers(index -> server(index));
                case THREADS -> {
                    int threads = ioThreads();
                    builder.asyncHandlers(index -> {
                        ThreadedQueueHandler handler = new ThreadedQueueHandler(queueName(index), threads,
                                options.queueSize(), inlineLimit, () -> server(index));
                        threaded.add(handler);
                        return handler;
                    });
                }
                case IO_URING -> builder.asyncHandlers(index -> {
                    UringQueueHandler handler = new UringQueueHandler(queueName(index), disk, (FileBackend) backend,
                            server(index), counters[index], options.queueSize());
                    uring[index] = handler;
                    return handler;
                });
            }
            this.device = builder
                    .reconnect(options.reconnect())
                    .busyPoll(options.busyPoll())
                    .userBounceMemory(options.userBounceMemory())
                    .start();
            // Beside the SDK's beans of each queue, with their lifetime: gone at close and detach.
            for (int i = 0; i < counters.length; i++) {
                device.addManagementBean(ObjectNames.queue("BlkQueue", options.name(), i), BlkQueueMXBean.class,
                        new BlkQueueBean(counters[i]));
            }
        } catch (VduseException | RuntimeException e) {
            stopIoThreads();
            arena.close();
            throw e;
        }
    }

    /** Queue {@code index}'s io_uring handler, or null when the device does not use io_uring. */
    UringQueueHandler uringHandler(int index) {
        return uring[index];
    }

    /** The name of queue {@code index}'s thread, which its I/O threads' names start with. */
    private String queueName(int index) {
        return "vduse-" + options.name() + "-q" + index;
    }

    /** A handler serving queue {@code index}'s requests one at a time, with scratch memory of its own. */
    private BlkQueueHandler server(int index) {
        return new BlkQueueHandler(disk, backend,
                arena.allocate(BlkQueueHandler.SCRATCH_SIZE, BlockBackend.BUFFER_ALIGNMENT), counters[index]);
    }

    /**
     * Creates the device in {@code kernel} (or takes it over, with {@link BlkOptions#reconnect()})
     * and starts serving it from {@code backend}.
     *
     * @throws VduseException saying why the kernel refused
     */
    public static VirtioBlkDevice start(BlkOptions options, BlockBackend backend, VduseKernel kernel)
            throws VduseException {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(kernel, "kernel");
        return new VirtioBlkDevice(options, backend, kernel);
    }

    /** The VDUSE API version the device was created with (or taken over at). */
    public long apiVersion() {
        return device.apiVersion();
    }

    /**
     * How the queues' requests are served: {@link BlkOptions#aio()}, unless that could not be had
     * here ({@link #aioNote()} then says why).
     */
    public BlkAio aio() {
        return aio;
    }

    /**
     * The I/O threads per queue with {@link BlkAio#THREADS}: the options' count, or
     * {@link BlkOptions#DEFAULT_IO_THREADS} when threads are the fallback from io_uring; 0 with
     * the other engines.
     */
    public int ioThreads() {
        if (aio != BlkAio.THREADS) {
            return 0;
        }
        return options.ioThreads() > 0 ? options.ioThreads() : BlkOptions.DEFAULT_IO_THREADS;
    }

    /**
     * With {@link BlkAio#THREADS}, the most bytes a request may carry to be served on its queue's
     * thread rather than handed to an I/O thread: {@link #IN_MEMORY_INLINE_LIMIT} for a file in
     * memory served so in place of io_uring, 0 (every request handed over) otherwise.
     */
    public long inlineLimit() {
        return inlineLimit;
    }

    /** How many requests all queues handed to their I/O threads (tests). */
    long requestsHandedToIoThreads() {
        long n = 0;
        for (ThreadedQueueHandler handler : threaded) {
            n += handler.handedOver();
        }
        return n;
    }

    /** Why {@link #aio()} is not the engine the options asked for, for a log line; null when it is. */
    public String aioNote() {
        return aioNote;
    }

    /** The options the device was started with. */
    public BlkOptions options() {
        return options;
    }

    /** The device's name. */
    public String name() {
        return options.name();
    }

    /** The backend the device serves. */
    public BlockBackend backend() {
        return backend;
    }

    /** The capacity in bytes, as the driver was last told. */
    public long capacityBytes() {
        return disk.capacityBytes();
    }

    /** The SDK's device: queue counts of completions and interrupts, negotiated features, status. */
    public VduseDevice vduseDevice() {
        return device;
    }

    /** What queue {@code index}'s handler has done. */
    public QueueCounters counters(int index) {
        return counters[index];
    }

    /**
     * Resizes the backend to {@code newSizeBytes} and tells the driver the new capacity.
     *
     * @throws IOException if the backend cannot change its size, or the config update fails
     */
    public synchronized void resize(long newSizeBytes) throws IOException {
        if (newSizeBytes < 0) {
            throw new IllegalArgumentException("negative size " + newSizeBytes);
        }
        backend.resize(newSizeBytes);
        announceCapacity(newSizeBytes);
    }

    /**
     * Reads the backend's size again (a file grown by {@code truncate -s}, a block device resized)
     * and, if the capacity changed, tells the driver.
     *
     * @return whether the capacity changed
     */
    public synchronized boolean refreshCapacity() throws IOException {
        long size = backend.refreshSize();
        if (size - size % options.logicalBlockSize() == disk.capacityBytes()) {
            return false;
        }
        announceCapacity(size);
        return true;
    }

    private void announceCapacity(long sizeBytes) throws ErrnoException {
        long capacity = disk.setCapacity(sizeBytes);
        byte[] field = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(capacity / VirtioBlk.SECTOR_SIZE).array();
        device.updateConfig((int) VirtioBlkConfig.CAPACITY, field);
    }

    /**
     * Stops serving and destroys the device in the kernel. After {@link #detach()}, or once the
     * device is destroyed, it does nothing: a detached device stays in the kernel for the process
     * that reconnects to it. After a refusal it may be called again, say once the device is
     * detached from the vDPA bus.
     *
     * @throws VduseException if the kernel refuses, typically because the device is still
     *     attached ({@code vdpa dev del NAME} first); serving has stopped either way
     */
    @Override
    public synchronized void close() throws VduseException {
        if (detached || destroyed) {
            return;
        }
        try {
            device.close();
            destroyed = true;
        } finally {
            // The handlers' scratch memory: the workers are stopped once device.close() returns
            // or throws, and the memory is released once however often close() is retried.
            closeArena();
        }
    }

    /**
     * Stops serving and leaves the device in the kernel, for a later reconnect; {@link #close()}
     * afterwards does nothing. Does nothing after {@link #close()}.
     */
    public synchronized void detach() throws VduseException {
        if (detached || destroyed) {
            return;
        }
        detached = true;
        try {
            device.detach();
        } finally {
            closeArena();
        }
    }

    private void closeArena() {
        // The I/O threads use the arena's scratch memory: they end first.
        stopIoThreads();
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    private void stopIoThreads() {
        boolean interrupted = false;
        for (ThreadedQueueHandler handler : threaded) {
            while (true) {
                try {
                    handler.close();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the threads end anyway; finish waiting, then say so
                }
            }
        }
        threaded.clear();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
