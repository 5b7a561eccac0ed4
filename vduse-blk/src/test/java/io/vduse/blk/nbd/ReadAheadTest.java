package io.vduse.blk.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Replies are read through a buffer: every byte arrives in order whatever the sizes the socket
 * hands out and the reader asks for, and a burst of replies costs one read of the socket.
 */
class ReadAheadTest {

    /**
     * A socket's side: hands out {@code data} in pieces of random sizes up to {@code largest}
     * bytes, or as much as fits when {@code random} is null; counts its reads.
     */
    private static final class Stream implements ReadableByteChannel {
        private final ByteBuffer data;
        private final Random random;
        private final int largest;
        final AtomicInteger reads = new AtomicInteger();

        Stream(byte[] data, Random random, int largest) {
            this.data = ByteBuffer.wrap(data);
            this.random = random;
            this.largest = largest;
        }

        @Override
        public int read(ByteBuffer destination) {
            reads.incrementAndGet();
            if (!data.hasRemaining()) {
                return -1;
            }
            int n = Math.min(destination.remaining(), data.remaining());
            if (random != null) {
                n = Math.min(n, 1 + random.nextInt(largest));
            }
            destination.put(data.slice(data.position(), n));
            data.position(data.position() + n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {}
    }

    @Test
    void everyByteArrivesInOrderWhateverTheSizesOnBothSides() throws IOException {
        for (int seed = 0; seed < 200; seed++) {
            Random random = new Random(seed);
            byte[] sent = new byte[random.nextInt(200_000)];
            random.nextBytes(sent);
            ReadAhead ahead = new ReadAhead(new Stream(sent, random, 1 + random.nextInt(70_000)), 1 + random.nextInt(8192));
            ByteBuffer received = ByteBuffer.allocate(sent.length);
            while (received.hasRemaining()) {
                // Heap and direct destinations, from one byte to larger than the buffer.
                int size = Math.min(received.remaining(), 1 + random.nextInt(random.nextBoolean() ? 64 : 20_000));
                ByteBuffer part = random.nextBoolean() ? ByteBuffer.allocate(size) : ByteBuffer.allocateDirect(size);
                Pieces.readFully(ahead, part);
                received.put(part.flip());
            }
            assertThat(received.array()).as("seed %d", seed).isEqualTo(sent);
            assertThat(ahead.read(ByteBuffer.allocate(1))).as("seed %d", seed).isEqualTo(-1);
        }
    }

    @Test
    void aBurstOfThirtyTwoReadRepliesIsOneReadOfTheSocket() throws IOException {
        int count = 32;
        int length = 4096;
        ByteBuffer burst = ByteBuffer.allocate(count * (Nbd.SIMPLE_REPLY_SIZE + length));
        Map<Long, NbdCommand> inFlight = new ConcurrentHashMap<>();
        AtomicInteger answered = new AtomicInteger();
        ByteBuffer[] destinations = new ByteBuffer[count];
        for (int i = 0; i < count; i++) {
            long cookie = 100 + i;
            destinations[i] = ByteBuffer.allocateDirect(length);
            NbdCommand read = new NbdCommand(Nbd.CMD_READ, 0, (long) i * length, length,
                    new ByteBuffer[] {destinations[i]}, (command, error) -> {
                        if (error == 0) {
                            answered.incrementAndGet();
                        }
                    });
            read.cookie = cookie;
            inFlight.put(cookie, read);
            burst.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(0).putLong(cookie);
            for (int b = 0; b < length; b++) {
                burst.put((byte) (i + b));
            }
        }
        // The server's burst, handed out whole, as a socket does once it has all arrived.
        Stream socket = new Stream(burst.array(), null, 0);
        NbdReplyReader replies = new NbdReplyReader(socket, inFlight, false);
        for (int i = 0; i < count; i++) {
            replies.readOne();
        }
        assertThat(answered).hasValue(count);
        assertThat(inFlight).isEmpty();
        assertThat(socket.reads).as("reads of the socket for %d replies", count).hasValue(1);
        for (int i = 0; i < count; i++) {
            for (int b = 0; b < length; b++) {
                assertThat(destinations[i].get(b)).isEqualTo((byte) (i + b));
            }
        }
    }
}
