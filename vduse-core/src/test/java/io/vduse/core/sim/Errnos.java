package io.vduse.core.sim;

import io.vduse.core.ErrnoException;

/** The errno of a call into the simulated kernel, 0 when it succeeds: what the tests compare with Linux's. */
final class Errnos {

    /** A call that may fail with an errno. */
    interface Call {
        void run() throws ErrnoException;
    }

    private Errnos() {}

    static int errno(Call call) {
        try {
            call.run();
            return 0;
        } catch (ErrnoException e) {
            return e.errno();
        }
    }
}
