package io.vduse.core.internal.linux;

/**
 * Checks, before the first native call, that the JVM lets this module call native code, and says
 * exactly which flag is missing when it does not. Without the check, the first call fails with a
 * generic {@link IllegalCallerException} (under {@code --illegal-native-access=deny}) or only
 * warns.
 */
public final class NativeAccessCheck {

    private NativeAccessCheck() {}

    /** The {@code --enable-native-access} value that enables this code where it is loaded. */
    public static String requiredFlag() {
        Module module = NativeAccessCheck.class.getModule();
        return "--enable-native-access=" + (module.isNamed() ? module.getName() : "ALL-UNNAMED");
    }

    /**
     * Throws if native access is not enabled for this module.
     *
     * @throws IllegalStateException naming the flag to add to the {@code java} command line
     */
    public static void requireEnabled() {
        Module module = NativeAccessCheck.class.getModule();
        if (!module.isNativeAccessEnabled()) {
            throw new IllegalStateException("native access is not enabled for "
                    + (module.isNamed() ? "module " + module.getName() : "the class path")
                    + ": vduse-java calls the kernel through the Foreign Function & Memory API. Start java with "
                    + requiredFlag());
        }
    }
}
