package io.vduse.core.sim;

import static io.vduse.core.sim.Errnos.errno;
import static org.assertj.core.api.Assertions.assertThat;

import io.vduse.api.Layouts;
import io.vduse.api.Vduse;
import io.vduse.api.VduseDevConfig;
import io.vduse.api.VduseDevRequest;
import io.vduse.api.VduseIoctls;
import io.vduse.api.VduseIotlbEntry;
import io.vduse.api.VduseIovaInfo;
import io.vduse.api.VduseIovaUmem;
import io.vduse.api.VduseRequest;
import io.vduse.api.VduseResponse;
import io.vduse.api.VduseVqConfig;
import io.vduse.api.virtio.VirtioDeviceId;
import io.vduse.api.virtio.VirtioFeatures;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.iova.IovaDomain;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code VDUSE_IOTLB_REG_UMEM} and {@code DEREG_UMEM} on the simulated kernel, asked by hand on
 * the device file as {@code vduse_dev_reg_umem} and {@code vduse_dev_dereg_umem} answer on Linux
 * 6.12 and 7.3 (vduse-it's KernelFactsTest pins the real answers): no bounce region, no
 * registration; only the whole region, at IOVA 0, from a page-aligned address, within
 * RLIMIT_MEMLOCK, once; the pages in use copied in and back; the registration kept by a reset and
 * dropped by the release of the device file. No device process runs: a thread answers every
 * control message OK, and the driver's requests stay in flight, their pages in use.
 */
class UserBounceMemoryRulesTest {

    private static final long BOUNCE = 1 << 20;
    private static final long PAGE = IovaDomain.PAGE_SIZE;
    private static final SimulatedDriver.Options OPTIONS = new SimulatedDriver.Options(-1L, 64, false, BOUNCE);

    private final Arena arena = Arena.ofShared();
    private Thread answering;
    private volatile boolean stop;

    @AfterEach
    void close() throws InterruptedException {
        stop = true;
        if (answering != null) {
            answering.join(5000);
        }
        arena.close();
    }

    /** Creates device {@code name} on {@code kernel}, opens it and answers its messages OK. */
    private VduseFile device(SimulatedKernel kernel, String name) throws ErrnoException {
        VduseFile control = kernel.openControl();
        MemorySegment value = arena.allocate(8);
        value.set(Layouts.U64, 0, Vduse.API_VERSION_0);
        control.ioctl(VduseIoctls.SET_API_VERSION, value);
        VduseDevConfig config = new VduseDevConfig(name, 0, VirtioDeviceId.BLOCK,
                VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.ACCESS_PLATFORM), 1,
                4096, 0, 0, new byte[60]);
        MemorySegment arg = arena.allocate(config.byteSize());
        config.writeTo(arg);
        control.ioctl(VduseIoctls.CREATE_DEV, arg);
        VduseFile file = kernel.openDevice(name);
        MemorySegment vq = arena.allocate(VduseVqConfig.LAYOUT);
        new VduseVqConfig(0, 64, 0).writeTo(vq);
        file.ioctl(VduseIoctls.VQ_SETUP, vq);
        answering = Thread.ofPlatform().daemon(true).start(() -> answerEverything(file));
        return file;
    }

    private void answerEverything(VduseFile file) {
        try (Arena own = Arena.ofConfined()) {
            MemorySegment request = own.allocate(VduseDevRequest.SIZE);
            MemorySegment response = own.allocate(VduseResponse.SIZE);
            while (!stop) {
                try {
                    if (!file.awaitReadable(20)) {
                        continue;
                    }
                    file.read(request, VduseDevRequest.SIZE);
                    VduseResponse.ok(VduseRequest.decode(request, 0).requestId()).writeTo(response);
                    file.write(response, VduseResponse.SIZE);
                } catch (ErrnoException | io.vduse.core.DeviceBrokenException e) {
                    return; // the file was closed
                }
            }
        }
    }

    private int reg(VduseFile file, long uaddr, long iova, long size) {
        return umem(file, VduseIoctls.IOTLB_REG_UMEM, uaddr, iova, size, 0, 0);
    }

    private int dereg(VduseFile file, long uaddr, long iova, long size) {
        return umem(file, VduseIoctls.IOTLB_DEREG_UMEM, uaddr, iova, size, 0, 0);
    }

    private int umem(VduseFile file, io.vduse.api.Ioctl ioctl, long uaddr, long iova, long size, int asid,
            int reserved) {
        MemorySegment arg = arena.allocate(VduseIovaUmem.LAYOUT);
        new VduseIovaUmem(uaddr, iova, size, asid).writeTo(arg);
        arg.set(Layouts.U32, VduseIovaUmem.ASID + 4, reserved);
        return errno(() -> file.ioctl(ioctl, arg));
    }

    /** GET_INFO at IOVA 0: the entry, or null for EINVAL. */
    private VduseIovaInfo infoAt0(VduseFile file) {
        MemorySegment arg = arena.allocate(VduseIovaInfo.LAYOUT);
        new VduseIovaInfo(0, 0, 0, 0).writeTo(arg);
        return errno(() -> file.ioctl(VduseIoctls.IOTLB_GET_INFO, arg)) == 0 ? VduseIovaInfo.readFrom(arg) : null;
    }

    /** The first byte of the bounce region as a fresh mapping of the file GET_FD names shows it. */
    @SuppressWarnings("restricted")
    private byte throughTheFile(VduseFile file, long iova) throws ErrnoException {
        MemorySegment entry = arena.allocate(VduseIotlbEntry.LAYOUT);
        VduseIotlbEntry.query(iova, iova).writeTo(entry);
        int fd = file.ioctl(VduseIoctls.IOTLB_GET_FD, entry);
        try {
            MemorySegment mapped = Syscalls.mmap(PAGE, Syscalls.PROT_READ, Syscalls.MAP_SHARED, fd, iova);
            byte b = mapped.reinterpret(PAGE).get(ValueLayout.JAVA_BYTE, 0);
            Syscalls.munmap(mapped, PAGE);
            return b;
        } finally {
            Syscalls.close(fd);
        }
    }

    /** The page-aligned offsets of {@code memory} whose page begins with {@code pattern}. */
    private static long find(MemorySegment memory, byte[] pattern) {
        for (long page = 0; page < memory.byteSize(); page += PAGE) {
            if (Arrays.equals(memory.asSlice(page, pattern.length).toArray(ValueLayout.JAVA_BYTE), pattern)) {
                return page;
            }
        }
        return -1;
    }

    @ParameterizedTest
    @EnumSource(SimulatedKernel.Release.class)
    void registrationTakesTheWholeBounceRegionOnceAndCopiesThePagesInUse(SimulatedKernel.Release release)
            throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(release, Duration.ofSeconds(5)).memlockLimit(64L << 20);
        VduseFile file = device(kernel, "umem");
        MemorySegment memory = arena.allocate(BOUNCE, PAGE);
        long uaddr = memory.address();

        // No IOVA domain before vdpa dev add: nothing to register, nothing to give back.
        assertThat(reg(file, uaddr, 0, BOUNCE)).isEqualTo(Errno.EINVAL);
        assertThat(dereg(file, uaddr, 0, BOUNCE)).isEqualTo(Errno.ENOENT);
        try (SimulatedDriver driver = SimulatedDriver.attach(kernel, "umem", OPTIONS)) {
            // Rings are coherent memory: no bounce region until the first streaming mapping.
            assertThat(infoAt0(file)).isNull();
            assertThat(reg(file, uaddr, 0, BOUNCE)).isEqualTo(Errno.EINVAL);

            byte[] pattern = new byte[512];
            Arrays.fill(pattern, (byte) 0x5e);
            driver.submit(0, List.of(pattern), 1); // nobody serves it: its pages stay in use
            assertThat(infoAt0(file)).isEqualTo(new VduseIovaInfo(0, BOUNCE - 1, Vduse.IOVA_CAP_UMEM, 0));
            assertThat(reg(file, uaddr, 0, BOUNCE - PAGE)).isEqualTo(Errno.EINVAL);
            assertThat(reg(file, uaddr, PAGE, BOUNCE)).isEqualTo(Errno.EINVAL);
            assertThat(reg(file, uaddr + 8, 0, BOUNCE)).isEqualTo(Errno.EINVAL);
            assertThat(umem(file, VduseIoctls.IOTLB_REG_UMEM, uaddr, 0, BOUNCE, 0, 1)).as("reserved").isEqualTo(Errno.EINVAL);
            assertThat(umem(file, VduseIoctls.IOTLB_REG_UMEM, uaddr, 0, BOUNCE, 1, 0)).as("asid 1, API 0")
                    .isEqualTo(Errno.EINVAL);
            kernel.memlockLimit(BOUNCE - PAGE);
            assertThat(reg(file, uaddr, 0, BOUNCE)).as("past RLIMIT_MEMLOCK").isEqualTo(Errno.ENOMEM);
            kernel.memlockLimit(64L << 20);
            assertThat(find(memory, pattern)).as("nothing copied by a refusal").isEqualTo(-1);

            assertThat(reg(file, uaddr, 0, BOUNCE)).isZero();
            long page = find(memory, pattern);
            assertThat(page).as("the page in use was copied into the device memory").isPositive();
            assertThat(kernel.pinnedBytes()).isEqualTo(BOUNCE);
            assertThat(reg(file, uaddr, 0, BOUNCE)).isEqualTo(Errno.EEXIST);
            assertThat(infoAt0(file).capability()).isEqualTo(Vduse.IOVA_CAP_UMEM);
            assertThat(throughTheFile(file, page)).as("the file's bounce pages are stale")
                    .isEqualTo(IovaDomain.STALE_BOUNCE_BYTE);

            memory.asSlice(page, 512).fill((byte) 0x6f);
            assertThat(dereg(file, uaddr, 0, BOUNCE - PAGE)).isEqualTo(Errno.EINVAL);
            assertThat(dereg(file, uaddr, PAGE, BOUNCE)).isEqualTo(Errno.EINVAL);
            assertThat(dereg(file, uaddr, 0, BOUNCE)).isZero();
            assertThat(throughTheFile(file, page)).as("the page in use was copied back").isEqualTo((byte) 0x6f);
            assertThat(kernel.pinnedBytes()).isZero();
            assertThat(dereg(file, uaddr, 0, BOUNCE)).isEqualTo(Errno.ENOENT);

            // A reset drops the bounce region but not the registration: REG then says EINVAL
            // (that check comes first), DEREG still works.
            assertThat(reg(file, uaddr, 0, BOUNCE)).isZero();
            driver.reset();
            assertThat(infoAt0(file)).isNull();
            assertThat(kernel.userBounceMemoryRegistered("umem", 0)).isTrue();
            assertThat(reg(file, uaddr, 0, BOUNCE)).isEqualTo(Errno.EINVAL);
            assertThat(dereg(file, uaddr, 0, BOUNCE)).isZero();

            assertThat(reg(file, uaddr, 0, BOUNCE)).isEqualTo(Errno.EINVAL);
            driver.submit(0, List.of(pattern), 1);
            assertThat(reg(file, uaddr, 0, BOUNCE)).isZero();
        }
        // The release of the device file deregisters whatever is left.
        file.close();
        assertThat(kernel.userBounceMemoryRegistered("umem", 0)).isFalse();
        assertThat(kernel.pinnedBytes()).isZero();
    }

    @ParameterizedTest
    @EnumSource(SimulatedKernel.Release.class)
    void aRegistrationLeftAcrossDetachIsReusedOn612AndDeadOn73(SimulatedKernel.Release release) throws Exception {
        SimulatedKernel kernel = new SimulatedKernel(release, Duration.ofSeconds(5)).memlockLimit(64L << 20);
        VduseFile file = device(kernel, "again");
        MemorySegment memory = arena.allocate(BOUNCE, PAGE);
        byte[] pattern = new byte[256];
        Arrays.fill(pattern, (byte) 0x42);
        try (SimulatedDriver driver = SimulatedDriver.attach(kernel, "again", OPTIONS)) {
            driver.submit(0, List.of(new byte[16]), 1);
            assertThat(reg(file, memory.address(), 0, BOUNCE)).isZero();
        }
        try (SimulatedDriver driver = SimulatedDriver.attach(kernel, "again", OPTIONS)) {
            driver.submit(0, List.of(pattern), 1);
            assertThat(reg(file, memory.address(), 0, BOUNCE)).isEqualTo(Errno.EEXIST);
            // 6.12 kept the domain, and the memory still holds its bounce region; 7.3's new
            // domain bounces through pages of its own, the old registration pinned but unused.
            boolean bouncedThroughTheMemory = find(memory, pattern) >= 0;
            assertThat(bouncedThroughTheMemory).isEqualTo(release == SimulatedKernel.Release.LINUX_6_12);
            assertThat(dereg(file, memory.address(), 0, BOUNCE)).isZero();
        }
        file.close();
    }
}
