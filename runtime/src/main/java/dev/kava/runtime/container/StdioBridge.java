package dev.kava.runtime.container;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * Connects a container's stdio to local streams: one virtual thread per direction. Output is pumped
 * until the agent reports end of stream, so the last bytes a process writes before it exits are not
 * lost; each read waits for the previous write to finish, which is the back-pressure.
 */
public final class StdioBridge {
    private static final Logger LOG = Logger.getLogger(StdioBridge.class.getName());
    private static final int CHUNK = 64 * 1024;

    private final List<Thread> outputPumps = new ArrayList<>();
    private volatile Consumer<String> onFirstOutput = s -> {};
    private volatile boolean sawOutput;

    /** Called once, on the first byte of output (for start-up timing). */
    public StdioBridge onFirstOutput(Consumer<String> callback) {
        this.onFirstOutput = callback;
        return this;
    }

    /**
     * Starts the pumps. {@code stdin} null means the container gets end of file at once; {@code err}
     * is ignored for a terminal (a pty has one output stream).
     */
    public StdioBridge start(Container c, InputStream stdin, OutputStream out, OutputStream err, boolean tty) {
        outputPumps.add(Thread.ofVirtual().name("stdout-" + c.id()).start(() -> pump(c::readStdout, out, "stdout")));
        if (!tty) {
            outputPumps.add(Thread.ofVirtual().name("stderr-" + c.id()).start(() -> pump(c::readStderr, err, "stderr")));
        }
        if (stdin == null) {
            if (!tty) {
                c.closeStdin();
            }
        } else {
            Thread.ofVirtual().name("stdin-" + c.id()).start(() -> feed(c, stdin, tty));
        }
        return this;
    }

    private interface Reader {
        byte[] read(int max);
    }

    private void pump(Reader reader, OutputStream to, String name) {
        try {
            while (true) {
                byte[] data = reader.read(CHUNK);
                if (data.length == 0) return;
                if (!sawOutput) {
                    sawOutput = true;
                    onFirstOutput.accept(name);
                }
                to.write(data);
                to.flush();
            }
        } catch (IOException e) {
            LOG.fine(name + ": local stream closed: " + e.getMessage());
        } catch (RuntimeException e) {
            LOG.fine(name + ": " + e.getMessage());
        }
    }

    private static void feed(Container c, InputStream in, boolean tty) {
        byte[] buf = new byte[CHUNK];
        try {
            while (true) {
                int n = in.read(buf);
                if (n < 0) break;
                if (n > 0) c.writeStdin(Arrays.copyOf(buf, n));
            }
            if (!tty) c.closeStdin();
        } catch (IOException | RuntimeException e) {
            LOG.fine("stdin: " + e.getMessage());
        }
    }

    /** Waits until every output stream reached its end, at most {@code millis}; true when they all did. */
    public boolean awaitOutput(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (Thread t : outputPumps) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            try {
                if (left <= 0 || !t.join(java.time.Duration.ofMillis(left))) return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }
}
