package io.vduse.core.uring;

import java.util.Arrays;

/** A sink that records what it is given, in order, for the tests to look at. */
final class Completions implements IoUring.CompletionSink {

    private long[] userData = new long[16];
    private int[] results = new int[16];
    private int count;

    @Override
    public void completed(long data, int result) {
        if (count == userData.length) {
            userData = Arrays.copyOf(userData, count * 2);
            results = Arrays.copyOf(results, count * 2);
        }
        userData[count] = data;
        results[count] = result;
        count++;
    }

    int count() {
        return count;
    }

    long userData(int index) {
        return userData[index];
    }

    int result(int index) {
        return results[index];
    }

    /** The result of the completion that carried {@code data}; fails if there is none. */
    int resultOf(long data) {
        for (int i = 0; i < count; i++) {
            if (userData[i] == data) {
                return results[i];
            }
        }
        throw new AssertionError("no completion with user data " + data + " among " + this);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < count; i++) {
            s.append(i == 0 ? "" : ", ").append(userData[i]).append(':').append(results[i]);
        }
        return s.append(']').toString();
    }
}
