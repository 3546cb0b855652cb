package dev.kava.shim.io;

import com.google.protobuf.ByteString;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.OpenFlags;
import dev.kava.runtime.agent.AgentClient;
import java.io.FileOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.logging.Logger;

/**
 * Bridges one process's stdio between containerd's side (FIFOs, or {@code file://} paths) and the guest
 * agent's streams. Output is pulled from the agent in chunks and written to the FIFO: a slow reader slows
 * the container down rather than filling the shim's memory, and {@link #outputDone()} completes only
 * after the last byte has been written, so an exit is never reported before the output it follows.
 * Blocking FIFO I/O runs on platform threads.
 */
public final class ProcessIo implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ProcessIo.class.getName());
    private static final int CHUNK = 256 * 1024;
    private static final ThreadFactory PUMPS = Thread.ofPlatform().daemon().stackSize(256 * 1024).name("shim-io-", 0).factory();

    /** Where a process's stdio goes: paths as containerd gives them (empty = none). */
    public record Paths(String stdin, String stdout, String stderr, boolean terminal) {}

    private final String containerId;
    private final String execId;
    private final AgentClient agent;
    private final Paths paths;
    private final CompletableFuture<Void> outputDone = new CompletableFuture<>();
    private volatile boolean stdinAbandoned;
    private volatile FileChannel stdinChannel;
    private Thread stdinPump;

    private ProcessIo(String containerId, String execId, AgentClient agent, Paths paths) {
        this.containerId = containerId;
        this.execId = execId;
        this.agent = agent;
        this.paths = paths;
    }

    /** Checks the paths now (clear errors in Create/Exec); {@link #start()} begins the copying. */
    public static ProcessIo open(String containerId, String execId, AgentClient agent, Paths paths) throws IOException {
        for (String p : new String[] {paths.stdin(), paths.stdout(), paths.stderr()}) {
            if (p.startsWith("binary://")) {
                throw new IOException("logging binaries (" + p + ") are not supported by kava; use FIFOs or file://");
            }
        }
        return new ProcessIo(containerId, execId, agent, paths);
    }

    /** Starts the pumps: stdout and stderr to containerd, containerd's stdin to the process. */
    public void start() {
        CompletableFuture<Void> outDone = new CompletableFuture<>();
        CompletableFuture<Void> errDone = paths.terminal() ? CompletableFuture.completedFuture(null) : new CompletableFuture<>();
        PUMPS.newThread(() -> {
            try {
                pumpOut(true);
            } finally {
                outDone.complete(null);
            }
        }).start();
        if (!paths.terminal()) {
            PUMPS.newThread(() -> {
                try {
                    pumpOut(false);
                } finally {
                    errDone.complete(null);
                }
            }).start();
        }
        CompletableFuture.allOf(outDone, errDone).whenComplete((v, t) -> outputDone.complete(null));
        if (paths.stdin().isEmpty()) {
            closeAgentStdin();
        } else {
            stdinPump = PUMPS.newThread(this::pumpIn);
            stdinPump.start();
        }
    }

    /** Completes when stdout and stderr have reached their end and were written out. */
    public CompletableFuture<Void> outputDone() {
        return outputDone;
    }

    private void pumpOut(boolean stdout) {
        String path = stdout ? paths.stdout() : paths.stderr();
        OutputStream sink = null;
        try {
            sink = openSink(path);
        } catch (IOException e) {
            LOG.warning(containerId + "/" + execId + ": cannot open " + path + ": " + e.getMessage() + "; output is dropped");
        }
        try {
            while (true) {
                ByteString chunk = stdout ? agent.readStdout(containerId, execId, CHUNK) : agent.readStderr(containerId, execId, CHUNK);
                if (chunk.isEmpty()) break;
                if (sink != null) {
                    try {
                        chunk.writeTo(sink);
                    } catch (IOException e) {
                        LOG.fine(containerId + "/" + execId + ": reader of " + path + " went away: " + e.getMessage());
                        close(sink);
                        sink = null;   // keep draining so the process is not blocked
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.fine(containerId + "/" + execId + ": " + (stdout ? "stdout" : "stderr") + " ended: " + e.getMessage());
        } finally {
            close(sink);
        }
    }

    private void pumpIn() {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try (FileChannel in = FileChannel.open(fsPath(paths.stdin()), StandardOpenOption.READ)) {
            // a FIFO: the open above waited for containerd's side to open it
            stdinChannel = in;
            if (stdinAbandoned) return;
            while (in.read(buf.clear()) > 0) {
                buf.flip();
                while (buf.hasRemaining()) {
                    int w = agent.writeStdin(containerId, execId, ByteString.copyFrom(buf.duplicate()));
                    if (w <= 0) return;
                    buf.position(buf.position() + Math.min(w, buf.remaining()));
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.fine(containerId + "/" + execId + ": stdin ended: " + e);
        } finally {
            closeAgentStdin();
        }
    }

    /**
     * CloseIO(stdin): containerd's side has finished writing. What it wrote is still in the FIFO: the pump
     * delivers it up to the end of file, then the process sees end of file. A client that keeps its end open
     * gets two seconds before the pump is cut off.
     */
    public void closeStdin() {
        if (paths.stdin().isEmpty()) return;
        Thread pump = stdinPump;
        if (pump == null) {
            stdinAbandoned = true;
            return;
        }
        Thread.ofVirtual().name("shim-stdin-close").start(() -> {
            try {
                if (!pump.join(java.time.Duration.ofSeconds(2))) abandonStdin();
            } catch (InterruptedException e) {
                abandonStdin();
            }
        });
    }

    private void abandonStdin() {
        stdinAbandoned = true;
        unblockOpen(paths.stdin());
        FileChannel ch = stdinChannel;
        if (ch != null) {
            try {
                ch.close();   // wakes a pump blocked in read
            } catch (IOException e) {
                LOG.fine("closing stdin: " + e.getMessage());
            }
        }
    }

    /**
     * The process sees end of file on stdin. Not for a terminal: its input and output are one device, and a
     * client that stops typing does not hang up the terminal (runc's shim and kava run agree).
     */
    private void closeAgentStdin() {
        if (paths.terminal()) return;
        try {
            agent.closeStdin(containerId, execId);
        } catch (RuntimeException e) {
            LOG.fine(containerId + "/" + execId + ": close stdin: " + e.getMessage());
        }
    }

    /** Stops the stdin pump (the process is gone); output pumps end on their own at end of stream. */
    @Override
    public void close() {
        if (stdinPump != null && stdinPump.isAlive()) abandonStdin();
    }

    /** A pump blocked opening a FIFO for reading waits for a writer: be that writer for a moment. */
    private static void unblockOpen(String path) {
        Path p = fsPath(path);
        if (p == null) return;
        try (Fd w = Fd.open(p.toString(), OpenFlags.O_WRONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0)) {
            // opened and closed: the reader's open returns and then reads end of file
        } catch (ErrnoException e) {
            // no reader waiting
        }
    }

    private static Path fsPath(String uri) {
        if (uri.isEmpty()) return null;
        if (uri.startsWith("file://")) return Path.of(uri.substring(7));
        if (uri.startsWith("fifo://")) return Path.of(uri.substring(7));
        return Path.of(uri);
    }

    static OutputStream openSink(String uri) throws IOException {
        Path p = fsPath(uri);
        if (p == null) return null;
        if (isFifo(p)) {
            // O_NONBLOCK: if nobody reads (the client died, or `ctr ... -d` has already gone), fail at
            // once instead of hanging the shim. This descriptor is kept: reopening the FIFO would block
            // for good if the reader left in between, and the exit would never be published.
            Fd fd;
            try {
                fd = Fd.open(p.toString(), OpenFlags.O_WRONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC, 0);
            } catch (ErrnoException e) {
                throw new IOException(e.getMessage(), e);
            }
            try {
                // blocking writes: a slow reader slows the container down (see class doc)
                fd.setNonBlocking(false);
            } catch (RuntimeException e) {
                fd.close();
                throw new IOException(e.getMessage(), e);
            }
            OutputStream out = fd.outputStream();
            return new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                }

                @Override
                public void close() {
                    fd.close();
                }
            };
        }
        Files.createDirectories(p.toAbsolutePath().getParent());
        return new FileOutputStream(p.toFile(), true);
    }

    private static boolean isFifo(Path p) {
        try {
            return Files.exists(p) && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(p)
                    && "p".equals(fileType(p));
        } catch (IOException e) {
            return false;
        }
    }

    private static String fileType(Path p) throws IOException {
        Object mode = Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        int m = (Integer) mode;
        return (m & 0170000) == 0010000 ? "p" : "other";
    }

    private static void close(OutputStream s) {
        if (s == null) return;
        try {
            s.close();
        } catch (IOException e) {
            LOG.fine("closing output: " + e.getMessage());
        }
    }
}
