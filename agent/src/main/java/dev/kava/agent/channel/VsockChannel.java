package dev.kava.agent.channel;

import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.UnixSocket;
import dev.kava.linux.Vsock;
import dev.kava.ttrpc.ByteStreams;
import dev.kava.ttrpc.TtrpcServer;
import java.util.concurrent.ThreadFactory;
import java.util.logging.Logger;

/** Accepts AF_VSOCK connections on a port and serves each as a ttrpc connection. */
public final class VsockChannel implements Runnable {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.channel");

    private final TtrpcServer server;
    private final Fd listener;
    private final int port;
    private final ThreadFactory threads = Channels.platform("vsock");

    private VsockChannel(TtrpcServer server, Fd listener, int port) {
        this.server = server;
        this.listener = listener;
        this.port = port;
    }

    /** Listens on {@code port} and starts the accept loop on a platform thread; false if unavailable. */
    public static boolean start(TtrpcServer server, int port) {
        if (!hasTransport()) {
            // no virtio-vsock device (QEMU here): skip the socket calls, which cost start-up time
            LOG.fine("no virtio-vsock device: not listening on vsock");
            return false;
        }
        if (!Vsock.isAvailable()) {
            LOG.info("no vsock: " + Vsock.unavailabilityCause());
            return false;
        }
        Fd listener;
        try {
            listener = Vsock.listen(Vsock.VMADDR_CID_ANY, port, 16);
        } catch (LinuxException e) {
            LOG.warning("vsock listen on port " + port + ": " + e.getMessage());
            return false;
        }
        Thread.ofPlatform().daemon().name("vsock-accept").stackSize(256 * 1024)
                .start(new VsockChannel(server, listener, port));
        LOG.info("listening on vsock port " + port);
        return true;
    }

    /** Whether a virtio-vsock device is bound to its driver, i.e. a host can reach us over vsock. */
    static boolean hasTransport() {
        java.nio.file.Path drv = java.nio.file.Path.of("/sys/bus/virtio/drivers/vmw_vsock_virtio_transport");
        try (var entries = java.nio.file.Files.list(drv)) {
            return entries.anyMatch(p -> p.getFileName().toString().startsWith("virtio"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    @Override
    public void run() {
        while (true) {
            try {
                Fd conn = Vsock.accept(listener);
                // a socket's close must wake its blocked reader: UnixSocket's close shuts the
                // socket down first, which works for any socket family
                UnixSocket closer = UnixSocket.adopt(conn);
                server.serveInBackground(ByteStreams.of(conn.inputStream(), conn.outputStream(), closer::close),
                        threads);
            } catch (LinuxException | IllegalStateException e) {
                LOG.warning("vsock accept on port " + port + ": " + e.getMessage());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }
}
