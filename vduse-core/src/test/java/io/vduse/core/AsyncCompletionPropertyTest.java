package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.api.virtio.VirtioStatus;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A property of asynchronous requests, checked against a model: whatever the order and the
 * threads in which an {@link AsyncQueueHandler} completes requests, every request comes back to
 * the driver exactly once, with the bytes a RAM disk beside it (the model) says.
 *
 * <p>Each run: a two-queue RAM block device whose handler completes each request immediately on
 * the queue's thread (1 in 5), or on one of {@value #COMPLETER_THREADS} other threads after a
 * random delay of 0 to {@value #MAX_DELAY_MICROS} µs; the simulated driver sends
 * {@value #REQUESTS} random writes (random bytes) and reads of 1 to 8 sectors at random sectors of
 * a small disk, then reads the whole disk back. Two requests in flight at once never overlap
 * where one of them writes (the driver waits for the earlier one), so the model is exact for
 * every read. Runs cover split and packed rings, with and without {@code EVENT_IDX} and indirect
 * tables, over several seeds and ring sizes (24 runs, about 246,000 requests: some 40 s on a
 * loaded 2-core machine); a failure names its seed (the workload replays, the thread
 * interleaving does not).
 */
class AsyncCompletionPropertyTest {

    private static final int SECTORS = 2048;
    private static final int REQUESTS = 10_000;
    private static final int QUEUES = 2;
    private static final int COMPLETER_THREADS = 3;
    private static final int MAX_DELAY_MICROS = 300;
    private static final int SEEDS_PER_LAYOUT = 3;
    private static final int[] RING_SIZES = {16, 64, 256};

    private final SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate((long) SECTORS * VirtioBlk.SECTOR_SIZE);
    private final ScheduledExecutorService completers = Executors.newScheduledThreadPool(COMPLETER_THREADS,
            Thread.ofPlatform().name("async-prop-completer-", 0).daemon(true).factory());
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws InterruptedException {
        toClose.close();
        completers.shutdownNow();
        completers.awaitTermination(10, TimeUnit.SECONDS);
        arena.close();
    }

    static Stream<Arguments> runs() {
        List<Arguments> runs = new ArrayList<>();
        for (boolean packed : new boolean[] {false, true}) {
            for (boolean eventIdx : new boolean[] {false, true}) {
                for (boolean indirect : new boolean[] {false, true}) {
                    for (int s = 0; s < SEEDS_PER_LAYOUT; s++) {
                        long seed = 0x5eed_0000L + runs.size();
                        runs.add(Arguments.of(packed, eventIdx, indirect, RING_SIZES[s % RING_SIZES.length], seed));
                    }
                }
            }
        }
        return runs.stream();
    }

    @ParameterizedTest(name = "packed={0} eventIdx={1} indirect={2} ring={3} seed={4}")
    @MethodSource("runs")
    void everyRequestCompletesOnceWithTheModelsBytesWhateverTheCompletionOrder(boolean packed, boolean eventIdx,
            boolean indirect, int ringSize, long seed) throws Exception {
        String name = "async-prop";
        long features = VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioBlk.F_MQ)
                | (eventIdx ? VirtioFeatures.bit(VirtioFeatures.EVENT_IDX) : 0)
                | (indirect ? VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC) : 0)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        Random random = new Random(seed);
        RamBlockHandler ram = new RamBlockHandler(disk, name);
        Handlers handlers = new Handlers(ram, seed);
        VduseDevice device = toClose.add(VduseDevice.builder(name)
                .kernel(kernel)
                .deviceId(VirtioDeviceId.BLOCK)
                .features(features)
                .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes())
                .queues(QUEUES, 256)
                .asyncHandlers(handlers::create)
                .start());
        SimulatedDriver driver = toClose.add(SimulatedDriver.attach(kernel, name,
                SimulatedDriver.Options.defaults().withQueueSize(ringSize).withIndirect(indirect)));
        assertThat(driver.negotiatedFeatures()).isEqualTo(device.negotiatedFeatures());
        BlockClient blk = new BlockClient(driver);
        Workload work = new Workload(blk, seed);

        for (int i = 0; i < REQUESTS; i++) {
            int sectors = 1 + random.nextInt(8);
            long sector = random.nextInt(SECTORS - sectors + 1);
            // A write now and then first, so that the reads find data.
            boolean write = random.nextInt(100) < (i < REQUESTS / 10 ? 80 : 50);
            work.issue(random.nextInt(QUEUES), write, sector, sectors, random);
        }
        // Then the whole disk back, 8 sectors a read.
        for (long sector = 0; sector < SECTORS; sector += 8) {
            work.issue((int) (sector / 8) % QUEUES, false, sector, 8, random);
        }
        work.drain();

        String run = "seed 0x" + Long.toHexString(seed);
        assertThat(handlers.failure.get()).as(run + ": a completer failed").isNull();
        // The device's memory, too, is what the model says.
        assertThat(disk.toArray(ValueLayout.JAVA_BYTE)).as(run + ": the RAM disk").isEqualTo(work.model);
        for (int q = 0; q < QUEUES; q++) {
            assertThat(driver.strayCompletions(q)).as(run + ": chains returned twice or never made available, queue %d", q)
                    .isZero();
            assertThat(driver.inFlight(q)).as(run + ": chains not returned, queue %d", q).isZero();
            assertThat(device.completed(q)).as(run + ": completed on queue %d", q).isEqualTo(work.submitted[q]);
            assertThat(device.handlerFailures(q)).as(run).isZero();
            assertThat(device.cancelled(q)).as(run).isZero();
            // Each request came back once, at its own place in a gapless used order.
            int queue = q;
            int[] sorted = work.completions.stream().filter(c -> c[0] == queue).mapToInt(c -> c[1]).sorted().toArray();
            assertThat(sorted).as(run + ": used orders of queue %d", q)
                    .isEqualTo(IntStream.range(0, work.submitted[q]).toArray());
        }
        assertThat(handlers.started.get()).as(run).isEqualTo(work.total);
        assertThat(handlers.completed.get()).as(run).isEqualTo(work.total);
        assertThat(handlers.onQueueThread.get()).as(run + ": completed on the queue's thread").isPositive();
        assertThat(handlers.onOtherThreads.get()).as(run + ": completed on other threads").isPositive();
        assertThat(VirtioStatus.has(device.status(), VirtioStatus.DEVICE_NEEDS_RESET)).as(run).isFalse();

        // Out of order for real: a good share of requests came back after one submitted later.
        int overtaken = work.overtaken();
        System.out.printf("%s, packed=%s eventIdx=%s indirect=%s ring=%d: %d of %d requests overtaken, "
                + "%d waits for an overlapping request%n", run, packed, eventIdx, indirect, ringSize, overtaken,
                work.total, work.conflictWaits);
        assertThat(overtaken).as(run + ": requests completed after one submitted later on their queue")
                .isGreaterThan(work.total / 5);
    }

    /**
     * The handler of each queue: starts each request on the queue's thread and completes it there
     * at once (1 in 5) or on a completer thread after a random delay; the completer moves the data.
     */
    private final class Handlers {
        final RamBlockHandler ram;
        final long seed;
        final AtomicLong started = new AtomicLong();
        final AtomicLong completed = new AtomicLong();
        final AtomicLong onQueueThread = new AtomicLong();
        final AtomicLong onOtherThreads = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Handlers(RamBlockHandler ram, long seed) {
            this.ram = ram;
            this.seed = seed;
        }

        AsyncQueueHandler create(int index) {
            Random random = new Random(seed * 31 + index); // the queue's thread alone uses it
            return request -> {
                started.incrementAndGet();
                int delay = random.nextInt(5) == 0 ? -1 : random.nextInt(MAX_DELAY_MICROS + 1);
                if (delay < 0) {
                    serve(request);
                    onQueueThread.incrementAndGet();
                } else if (delay == 0) {
                    completers.execute(() -> serveElsewhere(request));
                } else {
                    completers.schedule(() -> serveElsewhere(request), delay, TimeUnit.MICROSECONDS);
                }
            };
        }

        private void serveElsewhere(Request request) {
            try {
                serve(request);
                onOtherThreads.incrementAndGet();
            } catch (RuntimeException | Error e) {
                failure.compareAndSet(null, e);
                throw e;
            }
        }

        private void serve(Request request) {
            ram.handle(request.chain());
            completed.incrementAndGet();
            request.complete();
        }
    }

    /** What the driver sent and what the model says, and the checks of each answer. */
    private static final class Workload {
        final BlockClient blk;
        final long seed;
        final byte[] model = new byte[SECTORS * VirtioBlk.SECTOR_SIZE];
        final List<Op> inFlight = new ArrayList<>();
        final int[] submitted = new int[QUEUES];
        /** Each answer checked: {queue, used order, submission number}. */
        final List<int[]> completions = new ArrayList<>();
        int total;
        int conflictWaits;

        Workload(BlockClient blk, long seed) {
            this.blk = blk;
            this.seed = seed;
        }

        private record Op(int number, int queue, boolean write, long sector, int sectors,
                CompletableFuture<Completion> done) {
            boolean overlaps(long otherSector, int otherSectors) {
                return sector < otherSector + otherSectors && otherSector < sector + sectors;
            }
        }

        void issue(int queue, boolean write, long sector, int sectors, Random random) throws Exception {
            reapCompleted();
            // No two requests in flight overlap where one writes: wait for the earlier ones.
            for (Iterator<Op> it = inFlight.iterator(); it.hasNext(); ) {
                Op op = it.next();
                if ((write || op.write()) && op.overlaps(sector, sectors)) {
                    conflictWaits++;
                    check(op);
                    it.remove();
                }
            }
            int length = sectors * VirtioBlk.SECTOR_SIZE;
            CompletableFuture<Completion> done;
            if (write) {
                byte[] data = new byte[length];
                random.nextBytes(data);
                System.arraycopy(data, 0, model, (int) sector * VirtioBlk.SECTOR_SIZE, length);
                done = blk.write(queue, sector, data);
            } else {
                done = blk.read(queue, sector, length);
            }
            inFlight.add(new Op(total++, queue, write, sector, sectors, done));
            submitted[queue]++;
        }

        void reapCompleted() throws Exception {
            for (Iterator<Op> it = inFlight.iterator(); it.hasNext(); ) {
                Op op = it.next();
                if (op.done().isDone()) {
                    check(op);
                    it.remove();
                }
            }
        }

        void drain() throws Exception {
            for (Op op : inFlight) {
                check(op);
            }
            inFlight.clear();
        }

        private void check(Op op) throws Exception {
            String what = "seed 0x%x, request %d (%s of %d sector(s) at %d on queue %d)".formatted(seed, op.number(),
                    op.write() ? "write" : "read", op.sectors(), op.sector(), op.queue());
            Completion c = op.done().get(30, TimeUnit.SECONDS);
            assertThat(BlockClient.status(c)).as(what + ": status").isEqualTo(VirtioBlk.S_OK);
            int length = op.sectors() * VirtioBlk.SECTOR_SIZE;
            if (op.write()) {
                assertThat(c.usedLength()).as(what + ": used length").isEqualTo(1);
            } else {
                assertThat(c.usedLength()).as(what + ": used length").isEqualTo(length + 1);
                int from = (int) op.sector() * VirtioBlk.SECTOR_SIZE;
                byte[] expected = Arrays.copyOfRange(model, from, from + length);
                byte[] read = c.writable().get(0);
                if (!Arrays.equals(read, expected)) {
                    int at = Arrays.mismatch(read, expected);
                    throw new AssertionError("%s: byte %d (sector %d) is %d, the model says %d".formatted(what, at,
                            op.sector() + at / VirtioBlk.SECTOR_SIZE, read[at], expected[at]));
                }
            }
            completions.add(new int[] {op.queue(), (int) c.usedOrder(), op.number()});
        }

        /**
         * Requests that came back after a request submitted later on the same queue: in used
         * order, those whose submission number is below the highest seen before them.
         */
        int overtaken() {
            int count = 0;
            for (int q = 0; q < QUEUES; q++) {
                int[] numberAt = new int[submitted[q]];
                for (int[] c : completions) {
                    if (c[0] == q) {
                        numberAt[c[1]] = c[2];
                    }
                }
                int highest = -1;
                for (int number : numberAt) {
                    if (number < highest) {
                        count++;
                    }
                    highest = Math.max(highest, number);
                }
            }
            return count;
        }
    }
}
