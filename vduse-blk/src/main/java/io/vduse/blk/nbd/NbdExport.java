package io.vduse.blk.nbd;

import java.util.ArrayList;
import java.util.List;

/**
 * What the server said about the export in the handshake: its size, its transmission flags, its
 * block-size constraints, and whether replies are structured.
 *
 * @param size bytes
 * @param flags the transmission flags ({@code NBD_FLAG_*})
 * @param minimumBlock the smallest block a request may address (1 when the server gave none)
 * @param preferredBlock the block size the server serves best (4096 when it gave none)
 * @param maximumPayload the most data one read or write may carry (32 MiB when the server gave none)
 * @param structuredReplies whether the server agreed to structured replies
 */
public record NbdExport(long size, int flags, int minimumBlock, int preferredBlock, int maximumPayload,
        boolean structuredReplies) {

    /** The payload limit the protocol lets a client assume when the server states none. */
    static final int DEFAULT_MAXIMUM_PAYLOAD = 32 << 20;

    public boolean readOnly() {
        return (flags & Nbd.TFLAG_READ_ONLY) != 0;
    }

    public boolean canMultiConn() {
        return (flags & Nbd.TFLAG_CAN_MULTI_CONN) != 0;
    }

    public boolean canFlush() {
        return (flags & Nbd.TFLAG_SEND_FLUSH) != 0;
    }

    public boolean canFua() {
        return (flags & Nbd.TFLAG_SEND_FUA) != 0;
    }

    public boolean canTrim() {
        return (flags & Nbd.TFLAG_SEND_TRIM) != 0;
    }

    public boolean canWriteZeroes() {
        return (flags & Nbd.TFLAG_SEND_WRITE_ZEROES) != 0;
    }

    /** The flags the server gave, for the start line: {@code read-only, multi-conn, structured replies, trim}. */
    public String flagsText() {
        List<String> words = new ArrayList<>();
        if (readOnly()) {
            words.add("read-only");
        }
        if (canMultiConn()) {
            words.add("multi-conn");
        }
        if (structuredReplies) {
            words.add("structured replies");
        }
        if (canTrim()) {
            words.add("trim");
        }
        if (canWriteZeroes()) {
            words.add("write-zeroes");
        }
        if (canFlush()) {
            words.add("flush");
        }
        if (canFua()) {
            words.add("fua");
        }
        return words.isEmpty() ? "no flags" : String.join(", ", words);
    }
}
