package dev.kava.shim;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code spare}: a shim daemon started ahead of need, so that containerd's {@code start} is answered
 * without a JVM start on its path. It binds {@code <dir>/<name>.sock}, warms up with the training run,
 * and waits. The launcher claims it by renaming the socket to a pod's address and writing
 * {@code <name>.args} (the pod's command line); the launcher wrote {@code <name>.ttrpc} (which containerd
 * the spare is for) when it started it. The spare then becomes that pod's shim, exactly as if
 * {@code serve} had started it. Connections that arrive in between wait in the socket's backlog.
 *
 * <p>A spare serves one containerd (its {@code TTRPC_ADDRESS}); it exits when that containerd's socket is
 * gone or after {@link #IDLE} unclaimed.
 */
final class SpareDaemon {
    static final Duration IDLE = Duration.ofMinutes(30);

    private SpareDaemon() {}

    static int run(Path socket) throws IOException, InterruptedException {
        Path dir = socket.getParent();
        String base = socket.getFileName().toString().replaceFirst("\\.sock$", "");
        Path argsFile = dir.resolve(base + ".args");
        ServerSocketChannel listener = ShimMain.bind(socket);
        String ttrpc = System.getenv("TTRPC_ADDRESS") == null ? "" : System.getenv("TTRPC_ADDRESS");
        try {
            ShimTraining.run();   // load and link what a pod's first requests use
        } catch (IOException | RuntimeException e) {
            // only a warm-up
        }
        Files.writeString(dir.resolve(base + ".ready"), "");
        List<String> claim = awaitClaim(dir, argsFile, ttrpc);
        for (String ext : new String[] {".args", ".ttrpc", ".ready", ".err"}) Files.deleteIfExists(dir.resolve(base + ext));
        try (var claimed = Files.newDirectoryStream(dir, base + ".claimed.*")) {
            for (Path c : claimed) Files.deleteIfExists(c);
        }
        if (claim == null) {
            listener.close();
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir.resolve(base + ".pid"));
            return 0;
        }
        ShimArgs args = ShimArgs.parse(claim.toArray(String[]::new));
        Files.deleteIfExists(dir.resolve(base + ".pid"));
        return new ShimDaemon(args, listener).run();
    }

    /** The claimed pod's command line, or null when the spare is no longer wanted. */
    private static List<String> awaitClaim(Path dir, Path argsFile, String ttrpc) throws IOException, InterruptedException {
        Instant giveUp = Instant.now().plus(IDLE);
        try (WatchService watch = FileSystems.getDefault().newWatchService()) {
            dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE);   // a rename into the directory is a create
            while (Instant.now().isBefore(giveUp)) {
                if (Files.exists(argsFile)) {
                    return Files.readAllLines(argsFile, StandardCharsets.UTF_8);
                }
                if (!ttrpc.isEmpty() && !Files.exists(Path.of(ttrpc.replaceFirst("^unix://", "")))) {
                    return null;   // its containerd is gone
                }
                WatchKey key = watch.poll(10, TimeUnit.SECONDS);
                if (key != null) {
                    key.pollEvents();
                    key.reset();
                }
            }
        } catch (ClosedWatchServiceException e) {
            return null;
        }
        return null;
    }
}
