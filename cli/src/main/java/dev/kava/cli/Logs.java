package dev.kava.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** One terse line per log record on stderr: "kava: WARNING dev.kava...: message". */
final class Logs {
    private Logs() {}

    static void configure(Level level) {
        Logger root = Logger.getLogger("");
        for (var h : root.getHandlers()) root.removeHandler(h);
        ConsoleHandler h = new ConsoleHandler();
        h.setLevel(level);
        h.setFormatter(new Formatter() {
            @Override
            public String format(LogRecord r) {
                String name = r.getLoggerName() == null ? "" : r.getLoggerName().substring(r.getLoggerName().lastIndexOf('.') + 1);
                return "kava: " + r.getLevel() + " " + name + ": " + formatMessage(r) + System.lineSeparator();
            }
        });
        root.addHandler(h);
        root.setLevel(level);
    }
}
