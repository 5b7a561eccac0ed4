package io.vduse.core.internal;

/** Helpers for the SDK's own threads. */
final class Threads {

    private Threads() {}

    /**
     * Waits for {@code thread} to end even if this thread is interrupted meanwhile, and then
     * restores the interrupt: a stop must not return while the stopped thread may still touch
     * memory the caller is about to release.
     */
    static void joinUninterruptibly(Thread thread) {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
