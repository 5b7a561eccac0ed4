package io.vduse.core.internal;

/** Helpers for the SDK's own threads. */
public final class Threads {

    private Threads() {}

    /**
     * Waits for {@code thread} to end even if this thread is interrupted meanwhile, and then
     * restores the interrupt: a stop must not return while the stopped thread may still touch
     * memory the caller is about to release.
     */
    public static void joinUninterruptibly(Thread thread) {
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

    /**
     * Waits up to {@code nanos} for {@code thread} to end, uninterruptibly as
     * {@link #joinUninterruptibly}; true if it ended.
     */
    public static boolean join(Thread thread, long nanos) {
        long deadline = System.nanoTime() + nanos;
        boolean interrupted = false;
        try {
            while (thread.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    thread.join(java.time.Duration.ofNanos(left));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            return true;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
