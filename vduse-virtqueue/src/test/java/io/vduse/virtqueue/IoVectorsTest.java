package io.vduse.virtqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The iovec array: what it accepts, and how a short transfer is consumed. */
class IoVectorsTest {

    @Test
    void piecesAreStoredAsStructIovec() {
        IoVectors v = new IoVectors(4, 1);
        assertThat(v.add(0x1000, 100)).isTrue();
        assertThat(v.add(0x2003, 7)).isTrue();
        assertThat(v.count()).isEqualTo(2);
        assertThat(v.totalLength()).isEqualTo(107);
        // The layout the kernel reads: base then length, 16 bytes an entry.
        assertThat(v.array().get(java.lang.foreign.ValueLayout.JAVA_LONG, 16)).isEqualTo(0x2003);
        assertThat(v.array().get(java.lang.foreign.ValueLayout.JAVA_LONG, 24)).isEqualTo(7);
        v.clear();
        assertThat(v.count()).isZero();
        assertThat(v.totalLength()).isZero();
    }

    @Test
    void aFullArrayOrAMisalignedPieceIsRefusedUnchanged() {
        IoVectors v = new IoVectors(2, 512);
        assertThat(v.add(4096, 512)).isTrue();
        assertThat(v.add(4096 + 256, 512)).as("address off the alignment").isFalse();
        assertThat(v.add(8192, 100)).as("length off the alignment").isFalse();
        assertThat(v.add(8192, 1024)).isTrue();
        assertThat(v.add(16384, 512)).as("full").isFalse();
        assertThat(v.count()).isEqualTo(2);
        assertThat(v.totalLength()).isEqualTo(1536);
    }

    @Test
    void consumingMovesTheRestToTheFront() {
        IoVectors v = new IoVectors(4, 1);
        v.add(1000, 10);
        v.add(2000, 20);
        v.add(3000, 30);
        v.consume(15); // all of the first piece, 5 bytes of the second
        assertThat(v.count()).isEqualTo(2);
        assertThat(v.address(0)).isEqualTo(2005);
        assertThat(v.length(0)).isEqualTo(15);
        assertThat(v.address(1)).isEqualTo(3000);
        assertThat(v.length(1)).isEqualTo(30);
        assertThat(v.totalLength()).isEqualTo(45);
        v.consume(15); // exactly the (new) first piece
        assertThat(v.count()).isEqualTo(1);
        assertThat(v.address(0)).isEqualTo(3000);
        v.consume(0);
        assertThat(v.totalLength()).isEqualTo(30);
        v.consume(30);
        assertThat(v.count()).isZero();
        assertThat(v.totalLength()).isZero();
    }

    @Test
    void badArgumentsAreRefused() {
        assertThatThrownBy(() -> new IoVectors(0, 1)).hasMessageContaining("capacity must be 1 to 1024");
        assertThatThrownBy(() -> new IoVectors(IoVectors.IOV_MAX + 1, 1)).hasMessageContaining("1025");
        assertThatThrownBy(() -> new IoVectors(4, 3)).hasMessageContaining("power of two: 3");
        IoVectors v = new IoVectors(4, 1);
        assertThatThrownBy(() -> v.add(0, 0)).hasMessageContaining("positive length");
        v.add(0x1000, 8);
        assertThatThrownBy(() -> v.consume(9)).hasMessageContaining("cannot consume 9 of 8");
        assertThatThrownBy(() -> v.address(1)).isInstanceOf(IndexOutOfBoundsException.class);
    }
}
