package io.vduse.core;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns the JDK logger of some classes down for the length of a test that makes them log by the
 * thousand (a kill per run, say), and back afterwards. The SDK logs through
 * {@link System.Logger}, which {@code java.logging} backs when it is in the boot layer; this
 * module does not read it, so it is reached by reflection, and nothing happens without it.
 */
final class QuietLogs implements AutoCloseable {

    private final List<Object> loggers = new ArrayList<>();
    private final List<Object> levels = new ArrayList<>();
    private Method setLevel;

    QuietLogs(String level, String... names) {
        Module logging = ModuleLayer.boot().findModule("java.logging").orElse(null);
        if (logging == null) {
            return;
        }
        QuietLogs.class.getModule().addReads(logging);
        try {
            Class<?> loggerClass = Class.forName("java.util.logging.Logger");
            Class<?> levelClass = Class.forName("java.util.logging.Level");
            Method getLogger = loggerClass.getMethod("getLogger", String.class);
            Method getLevel = loggerClass.getMethod("getLevel");
            setLevel = loggerClass.getMethod("setLevel", levelClass);
            Object quiet = levelClass.getMethod("parse", String.class).invoke(null, level);
            for (String name : names) {
                // Held here: the JDK keeps loggers weakly, and a collected one forgets its level.
                Object logger = getLogger.invoke(null, name);
                loggers.add(logger);
                levels.add(getLevel.invoke(logger));
                setLevel.invoke(logger, quiet);
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot set the level of the JDK's loggers", e);
        }
    }

    @Override
    public void close() {
        try {
            for (int i = 0; i < loggers.size(); i++) {
                setLevel.invoke(loggers.get(i), levels.get(i));
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }
}
