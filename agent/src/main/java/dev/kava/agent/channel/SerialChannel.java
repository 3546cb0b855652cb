package dev.kava.agent.channel;

import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.OpenFlags;
import dev.kava.ttrpc.ByteStreams;
import dev.kava.ttrpc.TtrpcServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadFactory;
import java.util.logging.Logger;

/**
 * Serves ttrpc on a virtio-serial port, found by name under /sys/class/virtio-ports. The port
 * is one byte stream for the life of the VM and can be opened only once. When the host side is
 * not connected, reads return EOF at once; after a reconnect they may fail with EIO. So: at EOF
 * serve again on the same descriptor after a short backoff; on an error reopen the port. Never
 * returns.
 */
public final class SerialChannel implements Runnable {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.channel");
    private static final Path PORTS = Path.of("/sys/class/virtio-ports");
    private static final long MIN_BACKOFF_MS = 5;
    private static final long MAX_BACKOFF_MS = 500;

    private final TtrpcServer server;
    private final String portName;
    private final ThreadFactory threads = Channels.platform("serial");

    public SerialChannel(TtrpcServer server, String portName) {
        this.server = server;
        this.portName = portName;
    }

    /** The device of the virtio-serial port named {@code name} (e.g. /dev/vport0p1), or null. */
    public static Path find(Path portsDir, String name) {
        try (DirectoryStream<Path> ports = Files.newDirectoryStream(portsDir)) {
            for (Path port : ports) {
                try {
                    if (Files.readString(port.resolve("name")).strip().equals(name)) {
                        return Path.of("/dev").resolve(port.getFileName().toString());
                    }
                } catch (IOException e) {
                    // no name: not ours
                }
            }
        } catch (IOException e) {
            // no virtio-ports at all
        }
        return null;
    }

    @Override
    public void run() {
        long backoff = MIN_BACKOFF_MS;
        boolean warned = false;
        while (true) {
            Path dev = find(PORTS, portName);
            Fd fd = null;
            if (dev != null) {
                try {
                    fd = Fd.open(dev.toString(), OpenFlags.O_RDWR | OpenFlags.O_CLOEXEC | OpenFlags.O_NOCTTY, 0);
                } catch (LinuxException e) {
                    if (!warned) {
                        LOG.warning("open " + dev + ": " + e.getMessage());
                    }
                }
            } else if (!warned) {
                LOG.warning("no virtio-serial port named " + portName);
            }
            if (fd == null) {
                warned = true;
                sleep(MAX_BACKOFF_MS);
                continue;
            }
            warned = false;
            LOG.info("serving on " + dev);
            backoff = serveUntilError(fd, backoff);
            fd.close();
            sleep(backoff);
        }
    }

    /** Serves sessions on one open port until a read fails; returns the backoff to use. */
    private long serveUntilError(Fd fd, long backoff) {
        while (true) {
            FailureTracking in = new FailureTracking(fd.inputStream());
            long start = System.nanoTime();
            // closing a session must not close the port: the next session reuses it
            server.serve(ByteStreams.of(in, fd.outputStream(), () -> { }), threads);
            boolean quick = System.nanoTime() - start < 1_000_000_000L;
            backoff = quick ? Math.min(backoff * 2, MAX_BACKOFF_MS) : MIN_BACKOFF_MS;
            if (in.failure != null) {
                LOG.info("serial port: " + in.failure.getMessage() + ": reopening");
                return backoff;
            }
            if (!quick) {
                LOG.info("serial port: host disconnected");
            }
            sleep(backoff);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Remembers whether the session ended on a read error rather than EOF. */
    private static final class FailureTracking extends InputStream {
        private final InputStream in;
        volatile IOException failure;

        FailureTracking(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return in.read(b, off, len);
            } catch (IOException e) {
                failure = e;
                throw e;
            }
        }
    }
}
