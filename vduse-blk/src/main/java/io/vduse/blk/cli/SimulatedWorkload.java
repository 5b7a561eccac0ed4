package io.vduse.blk.cli;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.ErrnoException;
import io.vduse.core.sim.SimulatedDriver;
import io.vduse.core.sim.SimulatedDriver.Completion;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * The built-in workload of {@code vduse-blk --simulate}: random writes of random lengths over
 * every queue, a flush per queue, then random reads over every queue, each block read compared
 * byte for byte with what was last written to it.
 *
 * <p>A model keeps, per logical block, the seed its content was generated from (0: never
 * written, so zeros on a fresh backend, unknown on an existing file). Writes in flight at the
 * same time never overlap, so the model's order is the device's.
 */
final class SimulatedWorkload {

    /** The most logical blocks one request moves. */
    private static final int MAX_BLOCKS_PER_REQUEST = 64;
    /** How many requests each queue has in flight at a time. */
    private static final int DEPTH_PER_QUEUE = 16;

    private final SimulatedDriver driver;
    private final int queues;
    private final int blockSize;
    private final long blocks;
    private final boolean freshBackend;
    private final SplittableRandom random;
    private final long[] seeds;
    private final PrintWriter out;

    private long verifiedBytes;
    private long movedBytes;
    private String failure;
    private BooleanSupplier stop = () -> false;
    private int writesDone;
    private int readsDone;

    /**
     * @param capacityBytes the device's capacity
     * @param freshBackend whether never-written blocks must read as zeros
     */
    SimulatedWorkload(SimulatedDriver driver, int queues, int blockSize, long capacityBytes, boolean freshBackend,
            long seed, PrintWriter out) {
        this.driver = driver;
        this.queues = queues;
        this.blockSize = blockSize;
        this.blocks = capacityBytes / blockSize;
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the simulated workload models at most 2^31 blocks");
        }
        this.freshBackend = freshBackend;
        this.random = new SplittableRandom(seed);
        this.seeds = new long[(int) blocks];
        this.out = out;
    }

    /** Ends the workload early, between two batches of requests, once {@code stop} says so. */
    SimulatedWorkload stopWhen(BooleanSupplier stop) {
        this.stop = stop;
        return this;
    }

    /**
     * Runs {@code requests} requests, half writes and half reads (fewer when stopped early), and
     * prints the result.
     *
     * @return whether every request succeeded and every byte read back was right
     */
    boolean run(int requests) throws ErrnoException, InterruptedException {
        int writes = requests / 2;
        int reads = requests - writes;
        long start = System.nanoTime();
        writePhase(writes);
        if (failure == null) {
            flushAll();
        }
        if (failure == null) {
            readPhase(reads);
        }
        double seconds = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
        if (failure != null) {
            out.println("simulate: FAILED: " + failure);
            return false;
        }
        if (stop.getAsBoolean()) {
            out.printf(Locale.ROOT, "simulate: stopped after %d writes and %d reads in %.2f s; %s read back and "
                    + "verified, every byte equal%n", writesDone, readsDone, seconds,
                    StatsFormatter.bytes(verifiedBytes));
            return true;
        }
        out.printf(Locale.ROOT, "simulate: %d writes and %d reads over %d queue(s) in %.2f s: %.0f IOPS, %s/s; "
                        + "%s read back and verified, every byte equal%n",
                writes, reads, queues, seconds, (writes + reads + queues) / seconds,
                StatsFormatter.bytes(movedBytes / seconds), StatsFormatter.bytes(verifiedBytes));
        return true;
    }

    private void writePhase(int writes) throws ErrnoException, InterruptedException {
        int window = queues * DEPTH_PER_QUEUE;
        BitSet busy = new BitSet();
        List<CompletableFuture<Completion>> inFlight = new ArrayList<>();
        List<String> what = new ArrayList<>();
        int issued = 0;
        while (issued < writes && failure == null && !stop.getAsBoolean()) {
            busy.clear();
            inFlight.clear();
            what.clear();
            while (inFlight.size() < window && issued < writes) {
                int first = (int) random.nextLong(blocks);
                int count = 1 + random.nextInt((int) Math.min(MAX_BLOCKS_PER_REQUEST, blocks - first));
                if (busy.nextSetBit(first) >= 0 && busy.nextSetBit(first) < first + count) {
                    // Overlaps a write in flight: their order on the device is not the model's.
                    break;
                }
                busy.set(first, first + count);
                long seed = random.nextLong() | 1; // never 0, which means "never written"
                byte[] data = new byte[count * blockSize];
                for (int b = 0; b < count; b++) {
                    fill(data, b * blockSize, blockSize, seed, first + b);
                    seeds[first + b] = seed;
                }
                int queue = issued % queues;
                inFlight.add(driver.submit(queue, List.of(header(VirtioBlk.T_OUT, sector(first)), data), 1));
                what.add("write of %d blocks at block %d on queue %d".formatted(count, first, queue));
                movedBytes += data.length;
                issued++;
            }
            for (int i = 0; i < inFlight.size() && failure == null; i++) {
                Completion c = await(inFlight.get(i), what.get(i));
                if (c != null && status(c) != VirtioBlk.S_OK) {
                    failure = what.get(i) + " answered status " + status(c);
                }
            }
            writesDone = issued;
        }
    }

    private void flushAll() throws ErrnoException, InterruptedException {
        for (int q = 0; q < queues && failure == null; q++) {
            Completion c = await(driver.submit(q, List.of(header(VirtioBlk.T_FLUSH, 0)), 1), "flush on queue " + q);
            if (c != null && status(c) != VirtioBlk.S_OK) {
                failure = "flush on queue " + q + " answered status " + status(c);
            }
        }
    }

    private void readPhase(int reads) throws ErrnoException, InterruptedException {
        int window = queues * DEPTH_PER_QUEUE;
        List<CompletableFuture<Completion>> inFlight = new ArrayList<>();
        int[] firsts = new int[window];
        int issued = 0;
        while (issued < reads && failure == null && !stop.getAsBoolean()) {
            inFlight.clear();
            while (inFlight.size() < window && issued < reads) {
                int first = (int) random.nextLong(blocks);
                int count = 1 + random.nextInt((int) Math.min(MAX_BLOCKS_PER_REQUEST, blocks - first));
                firsts[inFlight.size()] = first;
                inFlight.add(driver.submit(issued % queues, List.of(header(VirtioBlk.T_IN, sector(first))),
                        count * blockSize, 1));
                issued++;
            }
            for (int i = 0; i < inFlight.size() && failure == null; i++) {
                Completion c = await(inFlight.get(i), "read at block " + firsts[i]);
                if (c != null) {
                    verify(c, firsts[i]);
                }
            }
            readsDone = issued;
        }
    }

    private void verify(Completion c, int first) {
        if (status(c) != VirtioBlk.S_OK) {
            failure = "read at block " + first + " answered status " + status(c);
            return;
        }
        byte[] data = c.writable().get(0);
        movedBytes += data.length;
        byte[] expected = new byte[blockSize];
        for (int b = 0; b < data.length / blockSize; b++) {
            long seed = seeds[first + b];
            if (seed == 0 && !freshBackend) {
                continue; // an existing file's own bytes: nothing to compare with
            }
            Arrays.fill(expected, (byte) 0);
            if (seed != 0) {
                fill(expected, 0, blockSize, seed, first + b);
            }
            int mismatch = Arrays.mismatch(data, b * blockSize, (b + 1) * blockSize, expected, 0, blockSize);
            if (mismatch >= 0) {
                failure = "block %d read back wrong at byte %d: 0x%02x, expected 0x%02x".formatted(first + b,
                        mismatch, data[b * blockSize + mismatch], expected[mismatch]);
                return;
            }
            verifiedBytes += blockSize;
        }
    }

    private Completion await(CompletableFuture<Completion> request, String what) throws InterruptedException {
        try {
            return request.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            failure = what + " failed: " + e.getCause();
        } catch (TimeoutException e) {
            failure = what + " got no answer within 60 s";
        }
        return null;
    }

    /**
     * Fills {@code length} bytes (a multiple of 8) at {@code offset} with the content of block
     * {@code block} written with {@code seed}: different for every block and every write.
     */
    static void fill(byte[] into, int offset, int length, long seed, long block) {
        ByteBuffer buffer = ByteBuffer.wrap(into).order(ByteOrder.LITTLE_ENDIAN);
        long state = seed ^ (block * 0x9E3779B97F4A7C15L);
        for (int i = 0; i < length; i += Long.BYTES) {
            // SplitMix64: cheap, and no two blocks or writes share a pattern.
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            buffer.putLong(offset + i, z ^ (z >>> 31));
        }
    }

    private long sector(int block) {
        return (long) block * blockSize / VirtioBlk.SECTOR_SIZE;
    }

    private static byte[] header(int type, long sector) {
        return ByteBuffer.allocate((int) VirtioBlk.OUT_HDR_SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(type).putInt(0).putLong(sector).array();
    }

    private static int status(Completion c) {
        byte[] last = c.writable().get(c.writable().size() - 1);
        return last[last.length - 1];
    }
}
