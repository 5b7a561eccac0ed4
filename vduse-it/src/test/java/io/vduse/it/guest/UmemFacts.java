package io.vduse.it.guest;

import io.vduse.api.Ioctl;
import io.vduse.api.Layouts;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseIotlbEntry;
import io.vduse.api.VduseIovaInfo;
import io.vduse.api.VduseIovaUmem;
import io.vduse.api.virtio.VirtioBlk;
import io.vduse.api.virtio.VirtioBlkConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.core.ErrnoException;
import io.vduse.core.QueueHandler;
import io.vduse.core.VduseDevice;
import io.vduse.core.VduseFile;
import io.vduse.core.VduseKernel;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.virtqueue.ChainReader;
import io.vduse.virtqueue.ChainWriter;
import io.vduse.virtqueue.DescriptorChain;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.stream.Stream;

/**
 * {@code VDUSE_IOTLB_REG_UMEM} and {@code DEREG_UMEM} on the real kernel, for {@link KernelFacts}:
 * a block device made with the SDK (its own bounce pages, the option off) is attached to
 * {@code virtio_vdpa}, whose partition scan creates the bounce region; a read of one sector is
 * then held inside the device's handler, its data written to the kernel's bounce page, so that its
 * pages are in use. On the device's own file (shared with the SDK through a {@link VduseKernel}
 * that keeps it), the probe asks what registration takes and refuses, what it copies in and back,
 * what becomes of the file's bounce range, and what a reset and the release of the file do.
 * Every fact's key begins with {@code umem.}.
 */
final class UmemFacts {

    private static final long SECTORS = 8192; // 4 MiB
    /** The sector whose read is held; in the middle, away from what a partition scan reads. */
    private static final long HELD_SECTOR = 4096;
    private static final byte HELD_DATA = 0x5e;
    private static final byte WRITTEN_WHILE_REGISTERED = 0x6f;
    private static final long PAGE = 4096;

    private final BiConsumer<String, Object> fact;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk = arena.allocate(SECTORS * VirtioBlk.SECTOR_SIZE, PAGE);
    private final CountDownLatch held = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private volatile boolean armed;

    private UmemFacts(BiConsumer<String, Object> fact) {
        this.fact = fact;
    }

    /** Asks the facts; {@code fact} records each. */
    static void ask(BiConsumer<String, Object> fact) {
        new UmemFacts(fact).run();
    }

    /** The real kernel, keeping the device file the SDK opens. */
    private static final class Keeping implements VduseKernel {
        volatile VduseFile device;

        @Override
        public VduseFile openControl() throws ErrnoException {
            return VduseKernel.linux().openControl();
        }

        @Override
        public VduseFile openDevice(String name) throws ErrnoException {
            device = VduseKernel.linux().openDevice(name);
            return device;
        }

        @Override
        public boolean deviceExists(String name) {
            return VduseKernel.linux().deviceExists(name);
        }

        @Override
        public String description() {
            return "linux, the device file kept";
        }
    }

    /** Serves reads and writes of {@link #disk}; holds the first read of the held sector once armed. */
    private final class Handler implements QueueHandler {
        @Override
        public void handle(DescriptorChain chain) throws InterruptedException {
            ChainReader in = chain.reader();
            ChainWriter out = chain.writer();
            int type = in.readIntLe();
            in.readIntLe();
            long sector = in.readLongLe();
            long dataIn = out.remaining() - 1;
            int status = VirtioBlk.S_OK;
            long offset = sector * VirtioBlk.SECTOR_SIZE;
            if (type == VirtioBlk.T_IN && offset + dataIn <= disk.byteSize()) {
                out.write(disk, offset, dataIn);
            } else if (type == VirtioBlk.T_OUT && offset + in.remaining() <= disk.byteSize()) {
                in.read(disk, offset, in.remaining());
            } else if (type != VirtioBlk.T_FLUSH) {
                out.skip(Math.max(0, dataIn));
                status = VirtioBlk.S_UNSUPP;
            }
            out.writeByte((byte) status);
            if (armed && type == VirtioBlk.T_IN && sector == HELD_SECTOR) {
                armed = false;
                held.countDown(); // data and status are in the kernel's bounce pages; not yet used
                release.await(60, TimeUnit.SECONDS);
            }
        }

        @Override
        public void failed(DescriptorChain chain, Exception cause) {}
    }

    private void run() {
        String name = KernelFacts.PREFIX + "umem";
        Keeping kernel = new Keeping();
        disk.asSlice(HELD_SECTOR * VirtioBlk.SECTOR_SIZE, PAGE).fill(HELD_DATA);
        VduseDevice device;
        try {
            device = VduseDevice.builder(name).kernel(kernel).deviceId(VirtioDeviceId.BLOCK)
                    .config(VirtioBlkConfig.ofCapacity(SECTORS).toBytes()).queues(1, 64)
                    .handlers(index -> new Handler()).start();
        } catch (Exception e) {
            fact.accept("umem.device", "not started: " + e.getMessage());
            return;
        }
        fact.accept("umem.device", "api " + device.apiVersion());
        VduseFile file = kernel.device;
        long guess = 64L << 20;
        MemorySegment umem = arena.allocate(VduseIovaUmem.LAYOUT);
        try {
            fact.accept("umem.reg.before_attach", umem(file, VduseIoctls.IOTLB_REG_UMEM, umem, PAGE * 16, 0, guess, 0, 0));
            fact.accept("umem.dereg.before_attach", umem(file, VduseIoctls.IOTLB_DEREG_UMEM, umem, PAGE * 16, 0, guess, 0, 0));
            String vd = attach(name);
            fact.accept("umem.attach", vd == null ? "no block device" : "ok");
            if (vd != null) {
                withDriver(device, file, name, vd, umem);
            }
        } catch (IOException | RuntimeException e) {
            fact.accept("umem.aborted", e.toString().replace('\n', ' '));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fact.accept("umem.aborted", e.toString());
        } finally {
            release.countDown();
            run("vdpa", "dev", "del", name);
            try {
                device.close();
            } catch (Exception e) {
                fact.accept("umem.device_close", e.getMessage());
            }
            fact.accept("umem.vmpin_after_release", vmPin());
        }
    }

    private void withDriver(VduseDevice device, VduseFile file, String name, String vd, MemorySegment umem)
            throws IOException, InterruptedException {
        MemorySegment infoArg = arena.allocate(VduseIovaInfo.LAYOUT);
        new VduseIovaInfo(0, 0, 0, 0).writeTo(infoArg);
        String got = describe(() -> file.ioctl(VduseIoctls.IOTLB_GET_INFO, infoArg));
        VduseIovaInfo info = VduseIovaInfo.readFrom(infoArg);
        fact.accept("umem.get_info.at_0", got.equals("ok")
                ? "0x%x-0x%x cap 0x%x".formatted(info.start(), info.last(), info.capability()) : got);
        if (!got.equals("ok")) {
            return;
        }
        long size = info.last() + 1;
        MemorySegment memory = mmapAnonymous(size);
        long uaddr = memory.address();
        Ioctl reg = VduseIoctls.IOTLB_REG_UMEM;
        Ioctl dereg = VduseIoctls.IOTLB_DEREG_UMEM;
        fact.accept("umem.reg.size_minus_page", umem(file, reg, umem, uaddr, 0, size - PAGE, 0, 0));
        fact.accept("umem.reg.iova_page", umem(file, reg, umem, uaddr, PAGE, size, 0, 0));
        fact.accept("umem.reg.uaddr_unaligned", umem(file, reg, umem, uaddr + 8, 0, size, 0, 0));
        fact.accept("umem.reg.reserved_nonzero", umem(file, reg, umem, uaddr, 0, size, 0, 1));
        fact.accept("umem.reg.asid_1", umem(file, reg, umem, uaddr, 0, size, 1, 0));
        long[] limits = rlimit();
        fact.accept("umem.rlimit_memlock", limits[0]);
        if (Long.compareUnsigned(limits[0], size) < 0) {
            fact.accept("umem.reg.past_memlock", umem(file, reg, umem, uaddr, 0, size, 0, 0));
        }
        fact.accept("umem.setrlimit", describe(() -> Syscalls.setrlimit(Syscalls.RLIMIT_MEMLOCK, 4 * size, 4 * size)));

        // A read held in the device's handler: its pages are in use while the probe registers.
        armed = true;
        Process dd = new ProcessBuilder("dd", "if=" + vd, "of=/tmp/umem-dd", "bs=4096",
                "skip=" + HELD_SECTOR * VirtioBlk.SECTOR_SIZE / PAGE, "count=1", "iflag=direct")
                .redirectErrorStream(true).start();
        boolean isHeld = held.await(30, TimeUnit.SECONDS);
        fact.accept("umem.read_held", isHeld);
        fact.accept("umem.reg", umem(file, reg, umem, uaddr, 0, size, 0, 0));
        fact.accept("umem.vmpin_after_reg", vmPin());
        long page = find(memory, HELD_DATA);
        fact.accept("umem.reg.copies_page_in_use", page >= 0 ? "yes" : "no");
        fact.accept("umem.reg.nonzero_pages", nonzeroPages(memory));
        fact.accept("umem.reg.again", umem(file, reg, umem, uaddr, 0, size, 0, 0));
        got = describe(() -> file.ioctl(VduseIoctls.IOTLB_GET_INFO, infoArg));
        fact.accept("umem.get_info.after_reg", got.equals("ok") ? "cap 0x" + Long.toHexString(
                VduseIovaInfo.readFrom(infoArg).capability()) : got);
        if (page >= 0) {
            fact.accept("umem.file_page.write_from_after_reg", writeFromFilePage(file, page));
            memory.asSlice(page, PAGE).fill(WRITTEN_WHILE_REGISTERED);
        }
        fact.accept("umem.dereg.size_minus_page", umem(file, dereg, umem, uaddr, 0, size - PAGE, 0, 0));
        fact.accept("umem.dereg.iova_page", umem(file, dereg, umem, uaddr, PAGE, size, 0, 0));
        fact.accept("umem.dereg", umem(file, dereg, umem, uaddr, 0, size, 0, 0));
        fact.accept("umem.vmpin_after_dereg", vmPin());
        fact.accept("umem.dereg.again", umem(file, dereg, umem, uaddr, 0, size, 0, 0));
        if (page >= 0) {
            fact.accept("umem.file_page.after_dereg", "0x%02x".formatted(readFilePage(file, page)));
        }
        release.countDown();
        boolean done = dd.waitFor(30, TimeUnit.SECONDS);
        byte[] read = done ? Files.readAllBytes(Path.of("/tmp/umem-dd")) : new byte[0];
        fact.accept("umem.held_read_returns", !done ? "dd did not finish" : read.length != PAGE ? read.length + " bytes"
                : allEqual(read, WRITTEN_WHILE_REGISTERED) ? "what was written while registered"
                : allEqual(read, HELD_DATA) ? "the device's data" : "other bytes");

        // A reset (vdpa dev del resets the device) keeps the registration; the release drops it.
        fact.accept("umem.reg.second", umem(file, reg, umem, uaddr, 0, size, 0, 0));
        run("vdpa", "dev", "del", name);
        fact.accept("umem.vmpin_after_vdpa_del", vmPin());
        fact.accept("umem.reg.after_vdpa_del", umem(file, reg, umem, uaddr, 0, size, 0, 0));
    }

    private String umem(VduseFile file, Ioctl ioctl, MemorySegment arg, long uaddr, long iova, long size, int asid,
            int reserved) {
        new VduseIovaUmem(uaddr, iova, size, asid).writeTo(arg);
        arg.set(Layouts.U32, VduseIovaUmem.ASID + 4, reserved);
        return describe(() -> file.ioctl(ioctl, arg));
    }

    private interface Call {
        void run() throws ErrnoException;
    }

    private static String describe(Call call) {
        try {
            call.run();
            return "ok";
        } catch (ErrnoException e) {
            return e.errnoName() + "(" + e.errno() + ")";
        }
    }

    /**
     * write(2) to a memfd from a fresh mapping of the page of the file {@code GET_FD} names for
     * {@code iova}: the kernel faults the page in for the copy, and answers what its fault handler does.
     */
    @SuppressWarnings("restricted")
    private String writeFromFilePage(VduseFile file, long iova) {
        try {
            MemorySegment mapped = mapFilePage(file, iova, Syscalls.PROT_READ);
            int memfd = Syscalls.memfdCreate("umem-probe", Syscalls.MFD_CLOEXEC);
            try {
                return describe(() -> Syscalls.write(memfd, mapped.reinterpret(PAGE), PAGE));
            } finally {
                Syscalls.close(memfd);
                Syscalls.munmap(mapped, PAGE);
            }
        } catch (ErrnoException e) {
            return "not asked: " + e.getMessage();
        }
    }

    /** The first byte of the page through a fresh mapping of the file (a page the kernel has). */
    @SuppressWarnings("restricted")
    private byte readFilePage(VduseFile file, long iova) {
        try {
            MemorySegment mapped = mapFilePage(file, iova, Syscalls.PROT_READ);
            try {
                return mapped.reinterpret(PAGE).get(ValueLayout.JAVA_BYTE, 0);
            } finally {
                Syscalls.munmap(mapped, PAGE);
            }
        } catch (ErrnoException e) {
            return 0;
        }
    }

    private MemorySegment mapFilePage(VduseFile file, long iova, int prot) throws ErrnoException {
        MemorySegment entry = arena.allocate(VduseIotlbEntry.LAYOUT);
        VduseIotlbEntry.query(iova, iova).writeTo(entry);
        int fd = file.ioctl(VduseIoctls.IOTLB_GET_FD, entry);
        try {
            VduseIotlbEntry e = VduseIotlbEntry.readFrom(entry);
            return Syscalls.mmap(PAGE, prot, Syscalls.MAP_SHARED, fd, e.offset() + (iova - e.start()));
        } finally {
            Syscalls.close(fd);
        }
    }

    @SuppressWarnings("restricted")
    private MemorySegment mmapAnonymous(long size) {
        try {
            return Syscalls.mmapAnonymous(size).reinterpret(size); // kept until the process ends
        } catch (ErrnoException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long[] rlimit() {
        try {
            return Syscalls.getrlimit(Syscalls.RLIMIT_MEMLOCK);
        } catch (ErrnoException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long find(MemorySegment memory, byte value) {
        for (long page = 0; page < memory.byteSize(); page += PAGE) {
            if (memory.get(ValueLayout.JAVA_BYTE, page) == value && memory.get(ValueLayout.JAVA_BYTE, page + PAGE - 1) == value) {
                return page;
            }
        }
        return -1;
    }

    private static long nonzeroPages(MemorySegment memory) {
        long count = 0;
        for (long page = 0; page < memory.byteSize(); page += PAGE) {
            MemorySegment p = memory.asSlice(page, PAGE);
            for (long i = 0; i < PAGE; i += 8) {
                if (p.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != 0) {
                    count++;
                    break;
                }
            }
        }
        return count;
    }

    private static boolean allEqual(byte[] bytes, byte value) {
        for (byte b : bytes) {
            if (b != value) {
                return false;
            }
        }
        return true;
    }

    /** {@code VmPin} of this process, as {@code /proc/self/status} says it. */
    private static String vmPin() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/status"))) {
            return lines.filter(l -> l.startsWith("VmPin:")).map(l -> l.substring(6).strip()).findFirst().orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }

    /** vdpa dev add, then the block device of the vDPA device, or null after 20 s. */
    private static String attach(String name) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (run("vdpa", "dev", "add", "name", name, "mgmtdev", "vduse") != 0) {
            if (System.nanoTime() > deadline) {
                return null;
            }
            Thread.sleep(100);
        }
        Path devices = Path.of("/sys/bus/vdpa/devices", name);
        while (System.nanoTime() < deadline) {
            try (Stream<Path> virtio = Files.list(devices)) {
                for (Path v : virtio.filter(p -> p.getFileName().toString().startsWith("virtio")).toList()) {
                    Path block = v.resolve("block");
                    if (Files.isDirectory(block)) {
                        try (Stream<Path> disks = Files.list(block)) {
                            String disk = disks.map(p -> p.getFileName().toString()).findFirst().orElse(null);
                            if (disk != null && Files.exists(Path.of("/dev", disk))) {
                                Thread.sleep(500); // let the partition scan finish
                                return "/dev/" + disk;
                            }
                        }
                    }
                }
            }
            Thread.sleep(100);
        }
        return null;
    }

    private static int run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }
}
