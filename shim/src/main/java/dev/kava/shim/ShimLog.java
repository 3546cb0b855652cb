package dev.kava.shim;

import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.OpenFlags;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * The shim's log goes to the {@code log} FIFO containerd opened in the bundle (containerd copies it into
 * its own log), or nowhere when no reader is there (containerd restarted): the shim never blocks on it.
 */
final class ShimLog {
    private ShimLog() {}

    static OutputStream install(Path fifo, boolean debug) {
        OutputStream out = open(fifo);
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        Handler h = new StreamHandler(out, new Formatter() {
            @Override
            public String format(LogRecord r) {
                String msg = formatMessage(r);
                if (r.getThrown() != null) msg += ": " + r.getThrown();
                return "time=\"" + Instant.ofEpochMilli(r.getMillis()) + "\" level=" + level(r.getLevel())
                        + " msg=\"" + msg.replace("\"", "'").replace("\n", " | ") + "\" runtime=io.containerd.kava.v2\n";
            }
        }) {
            @Override
            public synchronized void publish(LogRecord record) {
                super.publish(record);
                flush();
            }
        };
        // debug shows kava's own detail, never the JDK's (its FINE lines carry stack traces)
        h.setLevel(debug ? Level.FINE : Level.INFO);
        root.setLevel(Level.INFO);
        Logger.getLogger("dev.kava").setLevel(debug ? Level.FINE : Level.INFO);
        root.addHandler(h);
        return out;
    }

    private static String level(Level l) {
        if (l.intValue() >= Level.SEVERE.intValue()) return "error";
        if (l.intValue() >= Level.WARNING.intValue()) return "warning";
        if (l.intValue() >= Level.INFO.intValue()) return "info";
        return "debug";
    }

    private static OutputStream open(Path fifo) {
        try (Fd probe = Fd.open(fifo.toString(), OpenFlags.O_WRONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0)) {
            // a reader is there: reopen in blocking mode through the open descriptor
            return new FileOutputStream("/proc/self/fd/" + probe.value());
        } catch (ErrnoException | FileNotFoundException e) {
            return OutputStream.nullOutputStream();
        }
    }
}
