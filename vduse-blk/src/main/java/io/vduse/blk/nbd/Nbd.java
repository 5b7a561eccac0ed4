package io.vduse.blk.nbd;

/**
 * The numbers of the NBD protocol ({@code doc/proto.md} of the NetworkBlockDevice project): magics,
 * option and reply codes, flags, command types and the errno values servers send. Every value on the
 * wire is big-endian.
 */
public final class Nbd {

    private Nbd() {}

    /** The default TCP port, as IANA assigned it. */
    public static final int DEFAULT_PORT = 10809;

    // Handshake.
    /** The first 8 bytes every server sends: {@code NBDMAGIC}. */
    static final long INIT_MAGIC = 0x4e42444d41474943L;
    /** The second 8 bytes of a newstyle server, and the prefix of every option: {@code IHAVEOPT}. */
    static final long IHAVEOPT = 0x49484156454f5054L;
    /** The second 8 bytes of an oldstyle server, which this client refuses. */
    static final long OLDSTYLE_MAGIC = 0x00420281861253L;
    /** The magic that starts every option reply. */
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;

    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 1 << 1;

    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;

    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int REP_FLAG_ERROR = 1 << 31;
    static final int REP_ERR_UNSUP = REP_FLAG_ERROR | 1;
    static final int REP_ERR_POLICY = REP_FLAG_ERROR | 2;
    static final int REP_ERR_INVALID = REP_FLAG_ERROR | 3;
    static final int REP_ERR_PLATFORM = REP_FLAG_ERROR | 4;
    static final int REP_ERR_TLS_REQD = REP_FLAG_ERROR | 5;
    static final int REP_ERR_UNKNOWN = REP_FLAG_ERROR | 6;
    static final int REP_ERR_SHUTDOWN = REP_FLAG_ERROR | 7;
    static final int REP_ERR_BLOCK_SIZE_REQD = REP_FLAG_ERROR | 8;
    static final int REP_ERR_TOO_BIG = REP_FLAG_ERROR | 9;

    static final int INFO_EXPORT = 0;
    static final int INFO_BLOCK_SIZE = 3;

    // Transmission flags (per export).
    static final int TFLAG_HAS_FLAGS = 1;
    static final int TFLAG_READ_ONLY = 1 << 1;
    static final int TFLAG_SEND_FLUSH = 1 << 2;
    static final int TFLAG_SEND_FUA = 1 << 3;
    static final int TFLAG_SEND_TRIM = 1 << 5;
    static final int TFLAG_SEND_WRITE_ZEROES = 1 << 6;
    static final int TFLAG_CAN_MULTI_CONN = 1 << 8;

    // Transmission.
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    /** magic, flags, type, cookie, offset, length. */
    static final int REQUEST_SIZE = 28;
    /** magic, error, cookie. */
    static final int SIMPLE_REPLY_SIZE = 16;
    /** magic, flags, type, cookie, length. */
    static final int STRUCTURED_REPLY_SIZE = 20;

    public static final int CMD_FLAG_FUA = 1;
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;

    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_WRITE_ZEROES = 6;

    static final int REPLY_FLAG_DONE = 1;
    static final int CHUNK_NONE = 0;
    static final int CHUNK_OFFSET_DATA = 1;
    static final int CHUNK_OFFSET_HOLE = 2;
    static final int CHUNK_ERROR = (1 << 15) | 1;
    static final int CHUNK_ERROR_OFFSET = (1 << 15) | 2;
    static final int CHUNK_ERROR_FLAG = 1 << 15;

    // Errors a server sends (Linux errno values, as the protocol fixes them).
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    /** The name of an NBD error value, for messages: {@code EIO (5)}. */
    public static String errorName(int error) {
        String name = switch (error) {
            case EPERM -> "EPERM";
            case EIO -> "EIO";
            case ENOMEM -> "ENOMEM";
            case EINVAL -> "EINVAL";
            case ENOSPC -> "ENOSPC";
            case EOVERFLOW -> "EOVERFLOW";
            case ENOTSUP -> "ENOTSUP";
            case ESHUTDOWN -> "ESHUTDOWN";
            default -> "error";
        };
        return name + " (" + error + ")";
    }

    /** What an option error reply means, for messages. */
    static String replyErrorText(int type) {
        return switch (type) {
            case REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP: the server does not know the option";
            case REP_ERR_POLICY -> "NBD_REP_ERR_POLICY: the server's policy forbids it";
            case REP_ERR_INVALID -> "NBD_REP_ERR_INVALID: the server calls the request invalid";
            case REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM: not supported on the server's platform";
            case REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD: the server requires TLS, which this client does not speak";
            case REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN: no such export";
            case REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN: the server is shutting down";
            case REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD: the server wants block sizes respected";
            case REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG: the request is too big";
            default -> "error reply 0x" + Integer.toHexString(type);
        };
    }
}
