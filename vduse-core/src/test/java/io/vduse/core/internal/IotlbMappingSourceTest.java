package io.vduse.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vduse.api.Ioctl;
import io.vduse.api.Vduse;
import io.vduse.api.VduseIotlbEntry;
import io.vduse.core.Errno;
import io.vduse.core.ErrnoException;
import io.vduse.core.VduseFile;
import io.vduse.core.internal.linux.Syscalls;
import io.vduse.iova.Access;
import io.vduse.iova.Mapping;
import java.lang.foreign.MemorySegment;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;

/**
 * The device side of IOTLB misses against files the kernel might hand out: a mapping that works,
 * one the kernel refuses to mmap, and addresses nothing maps.
 */
class IotlbMappingSourceTest {

    /** A device file whose IOTLB_GET_FD answers with one entry and a descriptor of our choosing. */
    private static VduseFile answering(long start, long last, int perm, IntSupplier fd) {
        return new VduseFile() {
            @Override
            public int ioctl(Ioctl request, MemorySegment argument) throws ErrnoException {
                VduseIotlbEntry query = VduseIotlbEntry.readFrom(argument);
                if (Long.compareUnsigned(query.start(), last) > 0 || Long.compareUnsigned(query.last(), start) < 0) {
                    throw new ErrnoException("IOTLB_GET_FD", Errno.EINVAL);
                }
                new VduseIotlbEntry(0, start, last, perm).writeTo(argument);
                return fd.getAsInt();
            }

            @Override
            public long read(MemorySegment buffer, long length) {
                return 0;
            }

            @Override
            public long write(MemorySegment buffer, long length) {
                return 0;
            }

            @Override
            public boolean awaitReadable(int timeoutMillis) {
                return false;
            }

            @Override
            public int fd() {
                return -1;
            }

            @Override
            public void close() {}
        };
    }

    private static int open(String path) {
        try {
            return Syscalls.open(path, Syscalls.O_RDWR | Syscalls.O_CLOEXEC, 0);
        } catch (ErrnoException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int memfd(long size) {
        try {
            int fd = Syscalls.memfdCreate("iotlb-test", Syscalls.MFD_CLOEXEC);
            Syscalls.ftruncate(fd, size);
            return fd;
        } catch (ErrnoException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aMissIsMappedWithTheEntrysPermissionAndReleasedOnce() {
        IotlbMappingSource source = new IotlbMappingSource(answering(0x10000, 0x10fff, Vduse.ACCESS_RO, () -> memfd(4096)));
        Mapping mapping = source.resolve(0x10800).orElseThrow();
        assertThat(mapping.start()).isEqualTo(0x10000);
        assertThat(mapping.last()).isEqualTo(0x10fff);
        assertThat(mapping.access()).isEqualTo(Access.READ);
        assertThat(mapping.memory().isReadOnly()).isTrue();
        assertThat(mapping.memory().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4095)).isZero();
        source.release(mapping);
        assertThatThrownBy(() -> mapping.memory().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0))
                .isInstanceOf(IllegalStateException.class);
        source.release(mapping);
    }

    @Test
    void anAddressNothingMapsIsAMissNotAnError() {
        IotlbMappingSource source = new IotlbMappingSource(answering(0x10000, 0x10fff, Vduse.ACCESS_RW, () -> memfd(4096)));
        assertThat(source.resolve(0x20000)).isEmpty();
    }

    @Test
    void anMmapTheKernelRefusesIsATypedErrorNamingTheEntry() {
        // /dev/null cannot be mapped: mmap answers ENODEV.
        IotlbMappingSource source = new IotlbMappingSource(answering(0, 4095, Vduse.ACCESS_RW, () -> open("/dev/null")));
        assertThatThrownBy(() -> source.resolve(0))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("mmap of IOTLB entry")
                .hasRootCauseInstanceOf(ErrnoException.class)
                .rootCause().hasMessageContaining("ENODEV");
    }
}
