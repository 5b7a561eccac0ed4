package io.vduse.blk.nbd;

import java.io.IOException;

/**
 * A failure of the NBD protocol: a handshake the server refused or could not hold (no such
 * export, an oldstyle server, TLS required), or a reply the client cannot trust (a bad magic, an
 * unknown cookie, a length it did not ask for). The message says what happened, for one log line.
 */
public class NbdException extends IOException {

    private static final long serialVersionUID = 1L;

    /** Whether trying again may help (a connection lost) or not (the export does not exist). */
    private final boolean permanent;

    NbdException(String message, boolean permanent) {
        super(message);
        this.permanent = permanent;
    }

    /** Whether the server refused in a way that connecting again will not change. */
    public boolean permanent() {
        return permanent;
    }
}
