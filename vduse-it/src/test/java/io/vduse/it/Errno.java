package io.vduse.it;

import java.util.Map;

/** Names of the Linux errno values (x86-64 and arm64 share them), for readable results. */
public final class Errno {

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(1, "EPERM"), Map.entry(2, "ENOENT"), Map.entry(3, "ESRCH"), Map.entry(4, "EINTR"),
            Map.entry(5, "EIO"), Map.entry(6, "ENXIO"), Map.entry(7, "E2BIG"), Map.entry(9, "EBADF"),
            Map.entry(11, "EAGAIN"), Map.entry(12, "ENOMEM"), Map.entry(13, "EACCES"), Map.entry(14, "EFAULT"),
            Map.entry(16, "EBUSY"), Map.entry(17, "EEXIST"), Map.entry(19, "ENODEV"), Map.entry(20, "ENOTDIR"),
            Map.entry(22, "EINVAL"), Map.entry(24, "EMFILE"), Map.entry(25, "ENOTTY"), Map.entry(28, "ENOSPC"),
            Map.entry(30, "EROFS"), Map.entry(34, "ERANGE"), Map.entry(36, "ENAMETOOLONG"),
            Map.entry(38, "ENOSYS"), Map.entry(95, "EOPNOTSUPP"), Map.entry(110, "ETIMEDOUT"));

    private Errno() {}

    /** The symbolic name of {@code errno}, or {@code E?} if this table lacks it. */
    public static String name(int errno) {
        return NAMES.getOrDefault(errno, "E?");
    }

    /** {@code EINVAL(22)}. */
    public static String describe(int errno) {
        return name(errno) + "(" + errno + ")";
    }
}
