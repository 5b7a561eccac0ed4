package io.vduse.bench;

import io.vduse.api.virtio.VirtioBlk;
import io.vduse.core.RamBlockHandler;
import io.vduse.iova.CoherentBuffer;
import io.vduse.virtqueue.DescriptorChain;
import io.vduse.virtqueue.DeviceQueue;
import io.vduse.virtqueue.DriverQueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The device side of a 4 KiB virtio-blk request, without the simulated driver's conveniences
 * (futures, byte arrays, bounce copies, threads): a {@link DriverQueue} makes a three-buffer
 * chain (header, 4 KiB of data, status) available in coherent memory, and the device pops it,
 * runs {@link RamBlockHandler} on it (translating every buffer through the
 * {@link io.vduse.iova.AddressSpace}, copying 4 KiB to or from the RAM disk), pushes, publishes
 * and re-enables notifications, as a queue worker's pass does; the driver collects the used
 * element. B/op here is the device's hot path plus the driver queue's few ring writes.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class BlockDeviceSideBenchmark {

    private static final long DISK_BYTES = 16L << 20;
    private static final int SECTORS = (int) (DISK_BYTES / VirtioBlk.SECTOR_SIZE);

    /** {@code split} or {@code packed}. */
    @Param({"split", "packed"})
    public String layout;

    private Arena arena;
    private RingMemory rings;
    private DriverQueue driver;
    private DeviceQueue device;
    private DescriptorChain chain;
    private RamBlockHandler handler;
    private final long[] readIovas = new long[3];
    private final long[] writeIovas = new long[3];
    private final int[] lengths = {16, 4096, 1};
    private MemorySegment readHeader;
    private MemorySegment writeHeader;
    private int sector;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        MemorySegment disk = arena.allocate(DISK_BYTES, 4096);
        handler = new RamBlockHandler(disk, "bench");
        rings = new RingMemory(256, layout.equals("packed"));
        driver = rings.driver;
        device = rings.device;
        chain = device.newChain();
        CoherentBuffer headers = rings.alloc(4096);
        CoherentBuffer data = rings.alloc(2 * 4096);
        CoherentBuffer status = rings.alloc(4096);
        readHeader = headers.memory().asSlice(0, 16);
        writeHeader = headers.memory().asSlice(16, 16);
        readHeader.set(ValueLayout.JAVA_INT_UNALIGNED, 0, VirtioBlk.T_IN);
        writeHeader.set(ValueLayout.JAVA_INT_UNALIGNED, 0, VirtioBlk.T_OUT);
        readIovas[0] = headers.iova();
        readIovas[1] = data.iova();
        readIovas[2] = status.iova();
        writeIovas[0] = headers.iova() + 16;
        writeIovas[1] = data.iova() + 4096;
        writeIovas[2] = status.iova() + 1;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        rings.close();
        arena.close();
    }

    private int request(long[] iovas, int readable, int writable, MemorySegment header) {
        // The driver's share: the header (sectors walk the disk 4 KiB at a time) and the chain.
        sector = (sector + 8) & (SECTORS - 1);
        header.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, sector);
        if (driver.add(iovas, lengths, readable, writable) < 0) {
            throw new IllegalStateException("ring full");
        }
        driver.kickPrepare();
        // The device's share: one pass of a queue worker over one chain.
        device.disableNotifications();
        if (!device.pop(chain)) {
            throw new IllegalStateException("nothing popped");
        }
        handler.handle(chain);
        device.push(chain, (int) chain.writer().bytesWritten());
        device.publish();
        device.enableNotifications();
        // The driver collects it.
        if (driver.pollUsed() < 0) {
            throw new IllegalStateException("nothing used");
        }
        return driver.usedLength();
    }

    /** A 4 KiB read: header readable; data and status writable. */
    @Benchmark
    public int read4k() {
        return request(readIovas, 1, 2, readHeader);
    }

    /** A 4 KiB write: header and data readable; status writable. */
    @Benchmark
    public int write4k() {
        return request(writeIovas, 2, 1, writeHeader);
    }
}
