package dev.kava.shim;

import dev.kava.runtime.config.ConfigLoader;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.shim.events.EventPublisher;
import dev.kava.shim.task.Pod;
import dev.kava.shim.task.TaskService;
import dev.kava.ttrpc.TtrpcServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The serving shim: one per pod. Serves containerd's Task service on the socket the launcher named,
 * publishes events to containerd, and exits once containerd has shut down the last task (or on
 * SIGTERM), leaving no VM, mount or socket behind.
 */
final class ShimDaemon {
    private static final Logger LOG = Logger.getLogger("dev.kava.shim");

    private final ShimArgs args;
    private final ServerSocketChannel listener;
    private final CountDownLatch exit = new CountDownLatch(1);

    ShimDaemon(ShimArgs args, ServerSocketChannel listener) {
        this.args = args;
        this.listener = listener;
    }

    int run() {
        ShimTimeline.mark(args.id(), "serve-bound");
        OutputStream log = ShimLog.install(args.bundle().resolve("log"), args.debug());
        PrintStream err = new PrintStream(log, true);
        System.setErr(err);
        TtrpcServer server = new TtrpcServer();
        Pod pod = null;
        EventPublisher events = null;
        int status = 0;
        try {
            KavaConfig config = ConfigLoader.load(null);
            String ttrpc = System.getenv("TTRPC_ADDRESS");
            events = new EventPublisher(ttrpc == null ? "" : ttrpc, args.namespace());
            pod = new Pod(args, config, events, exit::countDown);
            new TaskService(pod).register(server);
            server.serve(listener, args.socket());
            Pod p = pod;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                LOG.info("signalled: tearing the pod down");
                p.close();
            }, "shim-shutdown"));
            LOG.info("kava shim serving pod " + args.key() + " of namespace " + args.namespace() + " on " + args.socket());
            exit.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | IOException e) {
            LOG.log(Level.SEVERE, "shim failed: " + e.getMessage(), e);
            status = 1;
        } finally {
            if (pod != null) pod.close();
            if (events != null) events.close(java.time.Duration.ofSeconds(2));
            server.close();
            try {
                listener.close();
                Files.deleteIfExists(args.socket());
                Files.deleteIfExists(ShimMain.pidFile(args.socket()));
                Path errlog = args.socket().resolveSibling(args.socket().getFileName().toString().replaceFirst("\\.sock$", "") + ".err");
                Files.deleteIfExists(errlog);
            } catch (IOException e) {
                LOG.fine("removing the shim socket: " + e.getMessage());
            }
            LOG.info("kava shim of pod " + args.key() + " exits");
        }
        return status;
    }
}
