package io.vduse.blk.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/**
 * {@code --pidfile}: a file holding this process's id and a newline, written once the device is
 * ready (so its existence means "ready", like the readiness line) and removed at a clean exit.
 *
 * <p>A pidfile that names a running process other than this one is refused before anything
 * starts: two services must not take the same file (and, usually, the same device). One that
 * names no running process is left over from a crash and is replaced. The file is written to a
 * temporary name beside it and renamed, so a reader never sees it half written.
 */
final class PidFile {

    private final Path path;
    private final long pid;

    private PidFile(Path path, long pid) {
        this.path = path;
        this.pid = pid;
    }

    /**
     * Claims {@code path} for process {@code pid}, without writing it yet.
     *
     * @throws IOException if it names another running process, or cannot be read
     */
    static PidFile claim(Path path, long pid) throws IOException {
        Optional<Long> holder = holder(path);
        if (holder.isPresent() && holder.get() != pid
                && ProcessHandle.of(holder.get()).map(ProcessHandle::isAlive).orElse(false)) {
            throw new IOException("--pidfile " + path + " names process " + holder.get()
                    + ", which is running: is another vduse-blk using it? Stop it, or give another --pidfile");
        }
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new IOException("--pidfile " + path + ": directory " + parent + " does not exist");
        }
        return new PidFile(path, pid);
    }

    /** The pid a pidfile holds, if it exists and holds one. */
    static Optional<Long> holder(Path path) throws IOException {
        String content;
        try {
            content = Files.readString(path, StandardCharsets.US_ASCII).strip();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(content));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Writes the pid, atomically. */
    void write() throws IOException {
        Path absolute = path.toAbsolutePath();
        Path temporary = absolute.resolveSibling("." + absolute.getFileName() + "." + pid + ".tmp");
        Files.writeString(temporary, pid + "\n", StandardCharsets.US_ASCII);
        try {
            Files.move(temporary, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Removes the file if it still names this process (another may have taken it since). */
    void remove() throws IOException {
        if (holder(path).orElse(-1L) == pid) {
            Files.deleteIfExists(path);
        }
    }

    /** The path, as given. */
    Path path() {
        return path;
    }
}
