package io.vduse.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link NonBlockingFile} over a FIFO: reads and writes that answer "would block", and bounded waits. */
class NonBlockingFileTest {

    private static Path fifo(Path dir) throws Exception {
        Path fifo = dir.resolve("fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).isZero();
        return fifo;
    }

    @Test
    void anEmptyFileWouldBlockAndAFullOneToo(@TempDir Path dir) throws Exception {
        try (NonBlockingFile file = NonBlockingFile.open(fifo(dir)); Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(65536);
            assertThat(file.read(buffer, 16)).isEqualTo(-1);
            assertThat(file.awaitReadable(10)).isFalse();
            assertThat(file.awaitWritable(0)).isTrue();

            buffer.set(ValueLayout.JAVA_BYTE, 0, (byte) 42);
            assertThat(file.write(buffer, 5)).isEqualTo(5);
            assertThat(file.awaitReadable(1000)).isTrue();
            MemorySegment in = arena.allocate(16);
            assertThat(file.read(in, 16)).isEqualTo(5);
            assertThat(in.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 42);

            long written = 0;
            long n;
            while ((n = file.write(buffer, buffer.byteSize())) > 0) {
                written += n;
            }
            assertThat(n).as("a full pipe would block").isEqualTo(-1);
            assertThat(written).isPositive();
            assertThat(file.awaitWritable(10)).isFalse();
        }
    }

    @Test
    void waitsAreBoundedAndOpeningNothingNamesTheErrno(@TempDir Path dir) throws Exception {
        try (NonBlockingFile file = NonBlockingFile.open(fifo(dir))) {
            assertThatThrownBy(() -> file.awaitReadable(-1)).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> NonBlockingFile.open(dir.resolve("missing")))
                .isInstanceOf(ErrnoException.class).hasMessageContaining("ENOENT");
    }
}
