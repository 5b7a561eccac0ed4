package io.vduse.core;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * Runs an action on a POSIX signal, through {@code sun.misc.Signal} (module jdk.unsupported): what
 * a device's tool uses for its counters on SIGUSR1 ({@code kill -USR1 PID}) and for SIGTERM and
 * SIGINT handled by its own thread.
 *
 * <p>Reached by reflection rather than compiled against: javac flags every use of
 * {@code sun.misc} as internal proprietary API, a warning no annotation suppresses, and the build
 * turns warnings into errors. The class is exported by jdk.unsupported, so reflection needs no
 * extra flag; where it is missing or the JVM keeps the signal for itself, the action is simply
 * not installed.
 */
public final class Signals {

    private Signals() {}

    /**
     * Runs {@code action} on a JVM signal-dispatch thread whenever signal {@code name} (e.g.
     * {@code USR1}) arrives.
     *
     * @return whether the handler was installed
     */
    public static boolean on(String name, Runnable action) {
        return replace(name, action) != null;
    }

    /**
     * As {@link #on}, and gives back what puts the signal's previous handler (the JVM's, for
     * SIGTERM) in place again; null if the handler could not be installed.
     */
    public static Runnable replace(String name, Runnable action) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Object signal = signalClass.getConstructor(String.class).newInstance(name);
            InvocationHandler invocation = (proxy, method, args) -> switch (method.getName()) {
                case "handle" -> {
                    action.run();
                    yield null;
                }
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                case "toString" -> "signal handler for SIG" + name;
                default -> throw new UnsupportedOperationException(method.getName());
            };
            Object handler = Proxy.newProxyInstance(handlerClass.getClassLoader(), new Class<?>[] {handlerClass},
                    invocation);
            Method handle = signalClass.getMethod("handle", signalClass, handlerClass);
            Object previous = handle.invoke(null, signal, handler);
            return () -> {
                try {
                    handle.invoke(null, signal, previous);
                } catch (ReflectiveOperationException e) {
                    // installed through the same method a moment ago: cannot happen
                    throw new IllegalStateException(e);
                }
            };
        } catch (ReflectiveOperationException | IllegalArgumentException | LinkageError e) {
            return null;
        }
    }
}
