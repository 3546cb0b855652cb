package dev.kava.agent;

import java.io.PrintStream;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * java.util.logging to stderr (the guest's serial console), one terse line per record:
 * {@code [  1.234] I container: created c1}: seconds since boot (CLOCK_MONOTONIC, the clock of the
 * kernel's own messages, so agent and kernel lines interleave on one time line), level letter, the
 * last part of the logger name, the message, and for a failure the exception on the same line.
 * The console is slow under emulation: no stack traces unless at FINE.
 */
public final class AgentLog {
    private AgentLog() {}

    /** Replaces the JDK's default configuration; {@code level} applies to dev.kava loggers. */
    public static void install(Level level) {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        root.setLevel(Level.WARNING);
        Handler h = new Handler() {
            private final PrintStream err = System.err;

            @Override
            public void publish(LogRecord r) {
                if (isLoggable(r)) {
                    err.print(format(r, level.intValue() <= Level.FINE.intValue()));
                    err.flush();
                }
            }

            @Override
            public void flush() {
                err.flush();
            }

            @Override
            public void close() {
                err.flush();
            }
        };
        h.setLevel(Level.ALL);
        h.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                return AgentLog.format(r, false);
            }
        });
        root.addHandler(h);
        Logger.getLogger("dev.kava").setLevel(level);
    }

    static String format(LogRecord r, boolean traces) {
        long ms = System.nanoTime() / 1_000_000;   // CLOCK_MONOTONIC on Linux: time since boot
        String name = r.getLoggerName() == null ? "" : r.getLoggerName();
        name = name.substring(name.lastIndexOf('.') + 1);
        StringBuilder sb = new StringBuilder(96);
        String secs = Long.toString(ms / 1000);
        sb.append('[');
        for (int i = secs.length(); i < 4; i++) {
            sb.append(' ');
        }
        sb.append(secs).append('.');
        long frac = ms % 1000;
        sb.append(frac < 100 ? (frac < 10 ? "00" : "0") : "").append(frac).append("] ")
                .append(letter(r.getLevel())).append(' ').append(name).append(": ");
        String msg = r.getMessage();
        if (msg != null && r.getParameters() != null && r.getParameters().length > 0) {
            msg = java.text.MessageFormat.format(msg, r.getParameters());
        }
        sb.append(msg);
        Throwable t = r.getThrown();
        if (t != null) {
            sb.append(": ").append(t);
            if (traces) {
                for (StackTraceElement e : t.getStackTrace()) {
                    sb.append("\n\tat ").append(e);
                }
            }
        }
        return sb.append('\n').toString();
    }

    private static char letter(Level l) {
        int v = l.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return 'E';
        }
        if (v >= Level.WARNING.intValue()) {
            return 'W';
        }
        if (v >= Level.INFO.intValue()) {
            return 'I';
        }
        return 'D';
    }
}
