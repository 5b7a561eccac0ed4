package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import io.vduse.core.sim.SimulatedKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The device's process is killed at a random step of its in-flight log and ring (one of the
 * {@link InflightLog.Step}s, between any two stores that matter), in the middle of traffic whose
 * requests complete on other threads in random order; a new process takes the device over, and
 * is killed again in some runs. Every request the driver made available completes exactly once,
 * every write reads back, and every read returns what was written, on split and packed rings.
 *
 * <p>A kill is modelled in-process: the step throws on the queue thread, which stops there with
 * no clean-up (its ring and log stay as they are), and from then on every step of the dead
 * device throws; the threads completing requests are stopped (what they had not completed is
 * never completed, as in a dead process) and the device is detached, which leaves the device in
 * the kernel as a kill does. Seeded: a failure prints the seed, and {@code -Dvduse.inflight.runs}
 * sets the number of runs per layout.
 */
class InflightCrashTest {

    private static final int RUNS = Integer.getInteger("vduse.inflight.runs", 1000);
    private static final int REGION_SECTORS = 8;
    private static final int REQUESTS = 40;
    private static final int PARALLEL = Integer.getInteger("vduse.inflight.parallel", 8);

    /** What the queue thread of a killed process does at the step it was killed at: stop. */
    private static final class Killed extends Error {
        private static final long serialVersionUID = 1L;

        Killed() {
            super("simulated SIGKILL", null, false, false);
        }
    }

    /**
     * What a process killed while it takes the device over (settling the log, on the thread
     * that starts the device) leaves: a start that failed, whose descriptors the kernel closes.
     */
    private static final class KilledWhileStarting extends RuntimeException {
        private static final long serialVersionUID = 1L;

        KilledWhileStarting() {
            super("simulated SIGKILL during the take-over", null, false, false);
        }
    }

    /** Kills the device at the {@code after}-th step; every later step of it throws too. */
    private static final class Kill implements InflightLog.CrashHook {
        final AtomicLong countdown;
        final CountDownLatch fired = new CountDownLatch(1);
        volatile boolean dead;
        volatile InflightLog.Step where;
        /** Set when the kill came during the take-over: no device was started. */
        volatile boolean duringStart;

        Kill(long after) {
            this.countdown = new AtomicLong(after);
        }

        @Override
        public void at(InflightLog.Step step) {
            if (!dead && countdown.decrementAndGet() == 0) {
                where = step;
                dead = true;
                fired.countDown();
            }
            if (dead) {
                if (step == InflightLog.Step.SETTLED || step == InflightLog.Step.SCRUBBED) {
                    throw new KilledWhileStarting();
                }
                throw new Killed();
            }
        }
    }

    /**
     * The device's backend: requests wait in a bag, and two threads take them in random order,
     * serve them from the RAM disk and complete them.
     */
    private static final class Backend {
        private final RamBlockHandler ram;
        private final List<Request> bag = new ArrayList<>();
        /** Requests taken from the bag ahead of one that came before them. */
        final AtomicLong overtaking = new AtomicLong();
        private final Thread[] threads = new Thread[2];
        private volatile boolean stopped;
        private volatile Throwable failure;

        Backend(MemorySegment disk, long seed) {
            this.ram = new RamBlockHandler(disk, "inflight");
            for (int i = 0; i < threads.length; i++) {
                Random random = new Random(seed + i);
                threads[i] = Thread.ofPlatform().name("backend-" + i).daemon(true).start(() -> serve(random));
            }
        }

        AsyncQueueHandler handler() {
            return request -> {
                synchronized (bag) {
                    bag.add(request);
                    bag.notifyAll();
                }
            };
        }

        private void serve(Random random) {
            try {
                while (true) {
                    Request request;
                    synchronized (bag) {
                        while (bag.isEmpty() && !stopped) {
                            bag.wait();
                        }
                        if (stopped) {
                            return;
                        }
                        int pick = random.nextInt(bag.size());
                        if (pick > 0) {
                            overtaking.incrementAndGet();
                        }
                        request = bag.remove(pick);
                    }
                    if (random.nextInt(4) == 0) {
                        // Let the other thread overtake now and then.
                        LockSupport.parkNanos(20_000);
                    }
                    ram.handle(request.chain());
                    request.complete();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException | Error e) {
                if (!stopped) {
                    failure = e;
                }
            }
        }

        /** Stops the threads as a kill does: what is in the bag is never completed. */
        void kill() throws InterruptedException {
            stopped = true;
            synchronized (bag) {
                bag.notifyAll();
            }
            for (Thread t : threads) {
                t.join(10_000);
            }
        }
    }

    /** How often each step was the one killed at, over a test's runs. */
    private final Map<InflightLog.Step, Integer> killedAt = new EnumMap<>(InflightLog.Step.class);
    /** Requests that completed ahead of one popped before them, over a test's runs. */
    private final AtomicLong overtaking = new AtomicLong();
    /** Requests served again by a process that took the device over. */
    private final AtomicLong resubmitted = new AtomicLong();

    @ParameterizedTest(name = "packed={0}")
    @ValueSource(booleans = {false, true})
    void everyRequestInFlightAtAKillCompletesOnceAfterTheTakeOver(boolean packed) throws Exception {
        long base = packed ? 0x9ac4_0000L : 0x5b11_0000L;
        // Each kill logs the queue's end, each take-over its resume: thousands of lines.
        QuietLogs quiet = new QuietLogs("OFF", "io.vduse.core.QueueRun", "io.vduse.core.VduseDevice",
                "io.vduse.core.InflightLogs");
        // Runs are independent (a kernel, a device and a driver each) and mostly wait for
        // threads to stop: several at once.
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL);
        long started = System.nanoTime();
        int kills = 0;
        try {
            List<Future<Integer>> runs = new ArrayList<>();
            for (int run = 0; run < RUNS; run++) {
                long seed = base + run;
                runs.add(pool.submit(() -> {
                    try {
                        return runOnce(packed, seed);
                    } catch (Throwable e) {
                        throw new AssertionError("packed=%b seed 0x%x: %s".formatted(packed, seed, e), e);
                    }
                }));
            }
            for (Future<Integer> run : runs) {
                try {
                    kills += run.get();
                } catch (ExecutionException e) {
                    pool.shutdownNow();
                    throw (AssertionError) e.getCause();
                }
            }
        } finally {
            pool.shutdown();
            pool.awaitTermination(1, TimeUnit.MINUTES);
            quiet.close();
        }
        System.out.printf("InflightCrashTest packed=%b: %d runs, %d kills in %d ms, %d requests served again, %d "
                + "completed ahead of one popped before them; killed at %s%n", packed, RUNS, kills,
                (System.nanoTime() - started) / 1_000_000, resubmitted.get(), overtaking.get(), killedAt);
        assertThat(kills).isGreaterThanOrEqualTo(RUNS);
        assertThat(overtaking.get()).as("out-of-order completions").isPositive();
        assertThat(resubmitted.get()).as("requests served again").isPositive();
        if (RUNS >= 500) {
            // Every step was the place of a kill (no split ring has slots to take back).
            java.util.Set<InflightLog.Step> steps = java.util.EnumSet.allOf(InflightLog.Step.class);
            if (!packed) {
                steps.remove(InflightLog.Step.SCRUBBED);
            }
            assertThat(killedAt.keySet()).containsExactlyInAnyOrderElementsOf(steps);
        }
    }

    /** One run; returns how many kills it had. */
    private int runOnce(boolean packed, long seed) throws Exception {
        Random random = new Random(seed);
        int[] sizes = packed ? new int[] {3, 4, 5, 8, 16} : new int[] {4, 8, 16};
        int queueSize = sizes[random.nextInt(sizes.length)];
        boolean eventIdx = random.nextBoolean();
        boolean indirect = random.nextBoolean();
        long features = VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC) | VirtioFeatures.bit(VirtioBlk.F_FLUSH)
                | (eventIdx ? VirtioFeatures.bit(VirtioFeatures.EVENT_IDX) : 0)
                | (packed ? VirtioFeatures.bit(VirtioFeatures.RING_PACKED) : 0);
        SimulatedKernel kernel = new SimulatedKernel(SimulatedKernel.Release.LINUX_6_12, Duration.ofSeconds(10));
        String name = "inflight";
        try (Arena arena = Arena.ofShared()) {
            // The disk outlives the processes, as a backing file would.
            MemorySegment disk = arena.allocate((long) REQUESTS * REGION_SECTORS * VirtioBlk.SECTOR_SIZE);
            // The first kill comes at a step before the first process could have served the whole
            // workload (each request takes at least 6 steps); a second one, in a quarter of the
            // runs, somewhere in what the second process serves, a third of them in its first
            // steps (settling the log, if it had something to settle).
            List<Kill> plan = new ArrayList<>();
            plan.add(new Kill(1 + random.nextInt(6 * REQUESTS)));
            if (random.nextInt(4) == 0) {
                plan.add(new Kill(1 + (random.nextInt(3) == 0 ? random.nextInt(3) : random.nextInt(6 * REQUESTS / 2))));
            }
            List<VduseDevice> devices = new ArrayList<>();
            List<Backend> backends = new ArrayList<>();
            Backend first = new Backend(disk, seed);
            backends.add(first);
            devices.add(start(kernel, name, features, queueSize, first, plan.get(0), false));
            SimulatedDriver driver = SimulatedDriver.attach(kernel, name,
                    SimulatedDriver.Options.defaults().withQueueSize(queueSize).withIndirect(indirect));
            int killed = 0;
            try {
                BlockClient blk = new BlockClient(driver);
                // A supervisor restarts the device process after each kill while the driver goes on
                // submitting (and waits while the ring is full).
                java.util.concurrent.atomic.AtomicBoolean finished = new java.util.concurrent.atomic.AtomicBoolean();
                CompletableFuture<Integer> supervisor = CompletableFuture.supplyAsync(() -> {
                    int done = 0;
                    int next = 1;
                    try {
                        for (Kill kill = plan.get(0); kill != null; ) {
                            while (!kill.fired.await(1, TimeUnit.MILLISECONDS)) {
                                if (finished.get()) {
                                    return done; // the workload ended before this kill's step
                                }
                            }
                            done++;
                            synchronized (killedAt) {
                                killedAt.merge(kill.where, 1, Integer::sum);
                            }
                            backends.getLast().kill();
                            if (!kill.duringStart) {
                                devices.getLast().detach();
                            }
                            kill = next < plan.size() ? plan.get(next++) : null;
                            Backend backend = new Backend(disk, seed + 100L * next);
                            backends.add(backend);
                            try {
                                devices.add(start(kernel, name, features, queueSize, backend, kill, true));
                            } catch (KilledWhileStarting e) {
                                kill.duringStart = true; // it fired: the loop takes it
                            }
                        }
                        return done;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, Thread::startVirtualThread);

                byte[][] data = new byte[REQUESTS][];
                List<Integer> written = java.util.Collections.synchronizedList(new ArrayList<>());
                ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
                List<CompletableFuture<?>> all = new ArrayList<>();
                for (int i = 0; i < REQUESTS; i++) {
                    Integer earlier = null;
                    synchronized (written) {
                        if (random.nextInt(3) == 0 && !written.isEmpty()) {
                            earlier = written.get(random.nextInt(written.size()));
                        }
                    }
                    if (earlier != null) {
                        // A read of a region whose write completed: what the driver gets must be it.
                        int j = earlier;
                        all.add(blk.read(0, (long) j * REGION_SECTORS, data[j].length).thenAccept(c -> {
                            if (BlockClient.status(c) != VirtioBlk.S_OK || !Arrays.equals(c.writable().get(0), data[j])) {
                                wrong.add("read of region " + j);
                            }
                        }));
                    }
                    data[i] = new byte[VirtioBlk.SECTOR_SIZE * (1 + random.nextInt(4))];
                    random.nextBytes(data[i]);
                    int index = i;
                    all.add(blk.write(0, (long) i * REGION_SECTORS, data[i]).thenAccept(c -> {
                        if (BlockClient.status(c) != VirtioBlk.S_OK) {
                            wrong.add("write " + index + " status " + BlockClient.status(c));
                        }
                        written.add(index);
                    }));
                }
                CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
                // Every write reads back through the last process.
                for (int i = 0; i < REQUESTS; i++) {
                    Completion read = blk.read(0, (long) i * REGION_SECTORS, data[i].length).get(10, TimeUnit.SECONDS);
                    if (!Arrays.equals(read.writable().get(0), data[i])) {
                        wrong.add("region " + i + " read back");
                    }
                }
                finished.set(true);
                killed = supervisor.get(30, TimeUnit.SECONDS);
                assertThat(wrong).as("requests answered wrongly").isEmpty();
                assertThat(driver.strayCompletions(0)).as("completions of chains not in flight").isZero();
                assertThat(driver.inFlight(0)).isZero();
                for (Backend b : backends) {
                    assertThat(b.failure).as("a backend thread failed").isNull();
                    overtaking.addAndGet(b.overtaking.get());
                }
                for (VduseDevice d : devices) {
                    resubmitted.addAndGet(d.resubmitted(0));
                }
                assertThat(killed).isPositive();
            } finally {
                driver.close();
                backends.getLast().kill();
                devices.getLast().close();
            }
            return killed;
        }
    }

    private static VduseDevice start(SimulatedKernel kernel, String name, long features, int queueSize,
            Backend backend, Kill kill, boolean reconnect) throws VduseException {
        return VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK).features(features)
                .config(VirtioBlkConfig.ofCapacity((long) REQUESTS * REGION_SECTORS).toBytes()).queues(1, queueSize)
                .asyncHandlers(index -> backend.handler()).inflightCrashHook(kill).reconnect(reconnect)
                .start();
    }
}
