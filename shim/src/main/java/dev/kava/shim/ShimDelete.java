package dev.kava.shim;

import com.google.protobuf.Timestamp;
import dev.kava.api.containerd.task.DeleteResponse;
import dev.kava.runtime.config.ConfigLoader;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.sandbox.SandboxCleaner;
import dev.kava.runtime.sandbox.SandboxState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.logging.Logger;

/**
 * {@code delete}: containerd could not reach the shim of a bundle (it died, or containerd lost it) and
 * asks for everything that shim owned to be undone. If the pod's shim is gone, its sandbox is cleaned
 * as {@code kava cleanup} would (VM killed, mounts undone, state removed); a pod whose shim still lives
 * is left alone. The answer is the task's exit as a marshalled DeleteResponse: SIGKILL's status, now.
 */
final class ShimDelete {
    private static final Logger LOG = Logger.getLogger(ShimDelete.class.getName());
    private static final int KILLED = 128 + 9;

    private ShimDelete() {}

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The launcher's socket, pid and error files of a pod whose daemon is gone. */
    private static void removeStaleSocket(String namespace, String key) {
        String dir = System.getenv("KAVA_SHIM_DIR") != null ? System.getenv("KAVA_SHIM_DIR") : "/run/kava/shim";
        String base = SandboxIds.shimSocketName(namespace, key);
        Path pidFile = Path.of(dir, base + ".pid");
        try {
            if (Files.exists(pidFile)) {
                long pid = Long.parseLong(Files.readString(pidFile).trim());
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) return;
            }
            for (String ext : new String[] {".sock", ".pid", ".err"}) {   // as the launcher names them
                if (Files.deleteIfExists(Path.of(dir, base + ext))) System.err.println("kava: removed " + dir + "/" + base + ext);
            }
        } catch (java.io.IOException | NumberFormatException e) {
            System.err.println("kava: removing the shim socket of pod " + key + ": " + e.getMessage());
        }
    }

    static DeleteResponse run(ShimArgs args) {
        String key = SandboxIds.podKey(args.bundle(), args.id());
        String sandboxId = SandboxIds.sandboxId(args.namespace(), key);
        try {
            KavaConfig config = ConfigLoader.load(null);
            Path dir = config.runtime().stateDir().resolve(sandboxId);
            if (Files.isDirectory(dir)) {
                var state = SandboxState.load(dir);
                // containerd calls delete as soon as the shim's socket closes: a killed shim may still be exiting
                for (int i = 0; i < 50 && state.isPresent() && state.get().ownerAlive(); i++) {
                    sleep(100);
                }
                if (state.isPresent() && state.get().ownerAlive()) {
                    System.err.println("kava: pod " + key + " still has its shim (pid " + state.get().ownerPid() + "): nothing to clean");
                } else {
                    var report = SandboxCleaner.cleanupOne(dir, false);
                    for (String a : report.actions()) System.err.println("kava: " + a);
                }
            }
            removeStaleSocket(args.namespace(), key);
        } catch (RuntimeException e) {
            System.err.println("kava: cleaning up pod " + key + ": " + e.getMessage());
            LOG.fine(e.toString());
        }
        Instant now = Instant.now();
        return DeleteResponse.newBuilder().setExitStatus(KILLED)
                .setExitedAt(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano())).build();
    }
}
