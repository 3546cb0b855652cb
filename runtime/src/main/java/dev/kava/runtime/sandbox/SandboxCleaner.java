package dev.kava.runtime.sandbox;

import dev.kava.linux.ErrnoException;
import dev.kava.linux.MountInfo;
import dev.kava.linux.Mounts;
import dev.kava.linux.Processes;
import dev.kava.linux.Signals;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.logging.Logger;

/**
 * Undoes what sandboxes left on the host: VM processes, mounts, state directories. Used by
 * {@link VirtSandbox#close()} and by {@code kava cleanup} for sandboxes whose owner died.
 */
public final class SandboxCleaner {
    private static final Logger LOG = Logger.getLogger(SandboxCleaner.class.getName());

    /** What one cleanup did, for the operator. */
    public record Report(String id, boolean skipped, String reason, List<String> actions) {}

    /**
     * The containerd shim's directory under the state root (its sockets and pid files): not a sandbox.
     * Sandbox ids cannot take this name: the shim's always contain "--".
     */
    public static final String SHIM_DIR = "shim";

    private SandboxCleaner() {}

    /** Removes the socket, pid and error files of containerd shims whose process is gone. */
    static List<Report> cleanupShimFiles(Path dir) {
        List<Report> reports = new ArrayList<>();
        try (var files = Files.list(dir)) {
            for (Path pidFile : files.filter(f -> f.getFileName().toString().endsWith(".pid")).sorted().toList()) {
                String base = pidFile.getFileName().toString().replaceFirst("\\.pid$", "");
                long pid;
                try {
                    pid = Long.parseLong(Files.readString(pidFile).trim());
                } catch (IOException | NumberFormatException e) {
                    pid = -1;
                }
                if (pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    reports.add(new Report("shim " + base, true, "in use by pid " + pid, List.of()));
                    continue;
                }
                List<String> actions = new ArrayList<>();
                for (String ext : new String[] {".sock", ".pid", ".err", ".ttrpc", ".ready", ".args"}) {
                    if (Files.deleteIfExists(dir.resolve(base + ext))) actions.add("removed " + dir.resolve(base + ext));
                }
                reports.add(new Report("shim " + base, false, "", actions));
            }
        } catch (IOException e) {
            LOG.fine("shim files in " + dir + ": " + e.getMessage());
        }
        Path spares = dir.resolve("spare");
        if (Files.isDirectory(spares, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            reports.addAll(cleanupShimFiles(spares));
        }
        return reports;
    }

    /**
     * Cleans every sandbox under {@code stateRoot} whose owner process is gone (or every one with
     * {@code force}).
     */
    public static List<Report> cleanup(Path stateRoot, boolean force) {
        List<Report> reports = new ArrayList<>();
        if (!Files.isDirectory(stateRoot)) return reports;
        try (var dirs = Files.list(stateRoot)) {
            for (Path dir : dirs.sorted().toList()) {
                if (dir.getFileName().toString().equals(SHIM_DIR)) {
                    reports.addAll(cleanupShimFiles(dir));
                } else if (Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    reports.add(cleanupOne(dir, force));
                }
            }
        } catch (IOException e) {
            throw new dev.kava.runtime.KavaException("cannot list " + stateRoot + ": " + e.getMessage(), e);
        }
        return reports;
    }

    /**
     * Cleans one sandbox state directory: kills its VM process (only if that pid's command line still
     * names the sandbox), unmounts what it mounted and deletes the directory. Skipped while the owner
     * process lives, unless {@code force}.
     */
    public static Report cleanupOne(Path dir, boolean force) {
        String id = dir.getFileName().toString();
        List<String> actions = new ArrayList<>();
        var state = SandboxState.load(dir);
        if (state.isPresent() && state.get().ownerAlive() && !force) {
            return new Report(id, true, "in use by pid " + state.get().ownerPid(), actions);
        }
        if (state.isPresent() && state.get().vmPid() > 0) {
            long pid = state.get().vmPid();
            if (cmdlineMentions(pid, id)) {
                try {
                    Processes.kill((int) pid, Signals.SIGKILL);
                    actions.add("killed VM process " + pid);
                    waitGone(pid);
                } catch (ErrnoException e) {
                    LOG.fine("kill " + pid + ": " + e.getMessage());
                }
            }
        }
        if (state.isPresent()) {
            actions.addAll(unmountAll(state.get().mounts()));
        }
        actions.addAll(unmountUnder(dir));
        deleteTree(dir);
        actions.add("removed " + dir);
        return new Report(id, false, "", actions);
    }

    private static boolean cmdlineMentions(long pid, String id) {
        try {
            String cmd = new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")));
            return cmd.contains(id);
        } catch (IOException e) {
            return false;
        }
    }

    private static void waitGone(long pid) {
        for (int i = 0; i < 200 && Files.exists(Path.of("/proc/" + pid)); i++) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Unmounts the given mount points, last first; missing ones are fine. */
    public static List<String> unmountAll(List<String> mounts) {
        List<String> done = new ArrayList<>();
        for (String m : mounts.reversed()) {
            if (umount(m)) done.add("unmounted " + m);
        }
        return done;
    }

    /** Unmounts everything mounted at or below {@code dir}, deepest first. */
    public static List<String> unmountUnder(Path dir) {
        List<String> done = new ArrayList<>();
        String prefix = dir.toAbsolutePath().normalize().toString();
        List<String> points;
        try {
            points = Mounts.mountInfo().stream().map(MountInfo::mountPoint)
                    .filter(p -> p.equals(prefix) || p.startsWith(prefix + "/"))
                    .sorted(Comparator.comparingInt(String::length).reversed())
                    .toList();
        } catch (RuntimeException e) {
            return done;
        }
        for (String p : points) {
            if (umount(p)) done.add("unmounted " + p);
        }
        return done;
    }

    private static boolean umount(String mountPoint) {
        try {
            Mounts.umount(mountPoint, Mounts.MNT_DETACH);
            return true;
        } catch (ErrnoException e) {
            return false;   // not mounted (EINVAL) or gone (ENOENT)
        }
    }

    /** Deletes a directory tree without following symlinks; never descends into a mount point. */
    public static void deleteTree(Path dir) {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                    if (!d.equals(dir) && Mounts.isMountPoint(d.toString())) {
                        LOG.warning("not deleting " + d + ": still a mount point");
                        return FileVisitResult.SKIP_SUBTREE;
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(f);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) {
                    try {
                        Files.deleteIfExists(d);
                    } catch (IOException e) {
                        LOG.fine("cannot delete " + d + ": " + e.getMessage());
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path f, IOException exc) {
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            LOG.warning("cannot delete " + dir + ": " + e.getMessage());
        }
    }
}
