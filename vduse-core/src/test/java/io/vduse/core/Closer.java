package io.vduse.core;

import java.util.ArrayList;
import java.util.List;

/** What a test opened, closed in reverse order at its end; what the test closed itself is skipped quietly. */
final class Closer implements AutoCloseable {

    private final List<AutoCloseable> opened = new ArrayList<>();

    /** Registers {@code resource} and returns it. */
    <T extends AutoCloseable> T add(T resource) {
        opened.add(resource);
        return resource;
    }

    @Override
    public void close() {
        for (int i = opened.size() - 1; i >= 0; i--) {
            try {
                opened.get(i).close();
            } catch (Exception ignored) {
                // already closed by the test
            }
        }
        opened.clear();
    }
}
