package dev.kava.cli.containerd;

import dev.kava.linux.ErrnoException;
import dev.kava.linux.MountInfo;
import dev.kava.linux.Mounts;
import dev.kava.linux.Processes;
import dev.kava.linux.Signals;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes whatever a stopped private containerd left: runc containers, shim processes and their
 * children, shim sockets, mounts, and finally the directory. Every step is by name of the private
 * directory, so nothing of another containerd is touched.
 */
final class Reaper {
    /** Where containerd-shim-runc-v2 keeps runc's state unless told otherwise: {@code /run/containerd/runc/NS/ID}. */
    static final Path RUNC_DEFAULT_ROOT = Path.of("/run/containerd/runc");
    /** containerd 1.6 shims put their sockets in {@code /run/containerd/s/<sha256(address/ns/id)>}, whatever the address. */
    static final Path SHIM_SOCKETS = Path.of("/run/containerd/s");
    private static final Duration KILL_WAIT = Duration.ofSeconds(5);

    /** What was done, and what could not be undone. */
    record Report(List<String> actions, List<String> problems) {}

    private final Layout layout;
    private final String marker;
    private final List<String> actions = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();

    private Reaper(Layout layout) {
        this.layout = layout;
        this.marker = layout.dir().toString() + "/";
    }

    /**
     * Cleans up after the containerd of {@code layout}, which must no longer run. {@code namespaces}: the
     * containerd namespaces it used, whose parent cgroups ({@code /NS} in each hierarchy) are removed when empty.
     */
    static Report reap(Layout layout, Set<String> namespaces) {
        Reaper r = new Reaper(layout);
        Set<String> all = new HashSet<>(namespaces);
        children(layout.bundles()).forEach(ns -> all.add(ns.getFileName().toString()));
        r.deleteRuncContainers();
        r.killProcesses();
        r.removeShimSockets();
        r.unmountAll();
        r.removeEmptyCgroups(all);
        r.deleteDirectory();
        return new Report(List.copyOf(r.actions), List.copyOf(r.problems));
    }

    /**
     * What a running containerd has that a test expects to be gone once its containers and pods are removed:
     * processes naming our directory (shims, containers, ctr) other than containerd itself, runc containers
     * whose bundle is ours, task bundles, and mounts under the directory.
     */
    static List<String> leftovers(Layout layout, long containerdPid) {
        Reaper r = new Reaper(layout);
        List<String> found = new ArrayList<>();
        for (int pid : r.processesNamingUs(Set.of()).keySet()) {
            String cmd = commandLine(pid);
            if (pid != containerdPid && !isIdleSpare(cmd)) {
                found.add("process " + pid + ": " + cmd);
            }
        }
        for (Path container : r.runcContainers()) {
            found.add("runc container " + container);
        }
        for (Path ns : children(layout.bundles())) {
            for (Path bundle : children(ns)) {
                found.add("task bundle " + bundle);
            }
        }
        for (MountInfo m : r.ourMounts()) {
            found.add("mount " + m.mountPoint() + " (" + m.fsType() + " " + m.source() + ")");
        }
        return found;
    }

    /** runc state directories ({@code ROOT/NS/ID}) whose state names our directory. */
    private List<Path> runcContainers() {
        List<Path> out = new ArrayList<>();
        for (Path root : List.of(RUNC_DEFAULT_ROOT, layout.dir().resolve("runc"))) {
            for (Path nsRoot : children(root)) {
                for (Path container : children(nsRoot)) {
                    try {
                        if (Files.readString(container.resolve("state.json")).contains(marker)) {
                            out.add(container);
                        }
                    } catch (IOException e) {
                        // not a container, or deleted meanwhile
                    }
                }
            }
        }
        return out;
    }

    /** {@code runc delete --force} of every container whose bundle is in our state dir: kills it, removes its cgroups. */
    private void deleteRuncContainers() {
        for (Path container : runcContainers()) {
            Path nsRoot = container.getParent();
            String id = container.getFileName().toString();
            CommandResult r = Commands.run(List.of(Commands.which("runc", "/usr/sbin/runc"), "--root", nsRoot.toString(),
                    "delete", "--force", id), Map.of(), null, Duration.ofSeconds(30));
            if (r.ok()) {
                actions.add("runc delete --force " + id + " (root " + nsRoot + ")");
            } else {
                problems.add("cannot delete runc container " + id + " in " + nsRoot + ": " + r.stderr().strip());
            }
        }
    }

    /** SIGKILL to every process that names our directory in its command line or environment, and to its descendants. */
    private void killProcesses() {
        Set<Integer> ancestors = ancestors(Processes.getpid());
        Map<Integer, List<Integer>> childrenOf = new HashMap<>();
        Set<Integer> doomed = new HashSet<>(processesNamingUs(ancestors).keySet());
        for (Path proc : children(Path.of("/proc"))) {
            String name = proc.getFileName().toString();
            if (name.chars().allMatch(Character::isDigit)) {
                int pid = Integer.parseInt(name);
                childrenOf.computeIfAbsent(parentOf(pid), k -> new ArrayList<>()).add(pid);
            }
        }
        List<Integer> todo = new ArrayList<>(doomed);
        while (!todo.isEmpty()) {
            int pid = todo.removeLast();
            for (int child : childrenOf.getOrDefault(pid, List.of())) {
                if (doomed.add(child)) {
                    todo.add(child);
                }
            }
        }
        doomed.removeAll(ancestors);
        for (int pid : doomed) {
            String cmd = commandLine(pid);
            try {
                Processes.kill(pid, Signals.SIGKILL);
                actions.add("killed " + pid + " " + cmd);
            } catch (ErrnoException e) {
                // exited meanwhile
            }
        }
        long deadline = System.nanoTime() + KILL_WAIT.toNanos();
        for (int pid : doomed) {
            while (alive(pid) && System.nanoTime() < deadline) {
                sleep(10);
            }
            if (alive(pid)) {
                problems.add("process " + pid + " survived SIGKILL: " + commandLine(pid));
            }
        }
    }

    /** Live processes (not {@code except}) whose command line or environment names our directory, with their parent pid. */
    private Map<Integer, Integer> processesNamingUs(Set<Integer> except) {
        Map<Integer, Integer> found = new HashMap<>();
        for (Path proc : children(Path.of("/proc"))) {
            String name = proc.getFileName().toString();
            if (!name.chars().allMatch(Character::isDigit)) {
                continue;
            }
            int pid = Integer.parseInt(name);
            if (!except.contains(pid) && alive(pid) && (mentions(proc.resolve("cmdline")) || mentions(proc.resolve("environ")))) {
                found.put(pid, parentOf(pid));
            }
        }
        return found;
    }

    /** The runc shim's socket of every task bundle still in our state dir. */
    private void removeShimSockets() {
        String address = layout.socket().toString();
        for (Path ns : children(layout.bundles())) {
            for (Path bundle : children(ns)) {
                Path socket = SHIM_SOCKETS.resolve(sha256(address + "/" + ns.getFileName() + "/" + bundle.getFileName()));
                try {
                    if (Files.deleteIfExists(socket)) {
                        actions.add("removed shim socket " + socket);
                    }
                } catch (IOException e) {
                    problems.add("cannot remove shim socket " + socket + ": " + e.getMessage());
                }
            }
        }
    }

    /** Detaches every mount at or below our directory, deepest first. */
    private void unmountAll() {
        for (int pass = 0; pass < 3; pass++) {
            List<MountInfo> ours = ourMounts();
            if (ours.isEmpty()) {
                return;
            }
            for (MountInfo m : ours) {
                try {
                    Mounts.umount(m.mountPoint(), Mounts.MNT_DETACH);
                    actions.add("unmounted " + m.mountPoint() + " (" + m.fsType() + ")");
                } catch (ErrnoException e) {
                    // gone with a parent, or already unmounted: the next pass looks again
                }
            }
        }
        for (MountInfo m : ourMounts()) {
            problems.add("cannot unmount " + m.mountPoint() + " (" + m.fsType() + ")");
        }
    }

    /**
     * runc puts a container of namespace NS in cgroup {@code /NS/ID} (ctr) or {@code /k8s.io/ID} (CRI without a
     * cgroup parent) and removes only {@code ID}: the {@code /NS} parents are removed here, in every hierarchy,
     * when they are empty. A cgroup that still has children or processes (another containerd's, using the same
     * namespace) refuses rmdir and is kept.
     */
    private void removeEmptyCgroups(Set<String> namespaces) {
        Path cgroupRoot = Path.of("/sys/fs/cgroup");
        List<Path> hierarchies = new ArrayList<>(children(cgroupRoot));
        hierarchies.add(cgroupRoot);   // a pure cgroup v2 host
        for (Path h : hierarchies) {
            if (!Files.isDirectory(h, LinkOption.NOFOLLOW_LINKS) || !Files.exists(h.resolve("cgroup.procs"))) {
                continue;
            }
            for (String ns : namespaces) {
                Path cg = h.resolve(ns);
                if (!Files.isDirectory(cg, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                try {
                    Files.delete(cg);   // rmdir(2): the kernel allows it on a cgroup with no children or tasks
                    actions.add("removed cgroup " + cg);
                } catch (IOException e) {
                    // in use by some other containerd
                }
            }
        }
    }

    /** Our mounts, deepest first. */
    List<MountInfo> ourMounts() {
        String dir = layout.dir().toString();
        return Mounts.mountInfo().stream()
                .filter(m -> m.mountPoint().equals(dir) || m.mountPoint().startsWith(marker))
                .sorted(Comparator.comparingInt((MountInfo m) -> depth(m.mountPoint())).reversed())
                .toList();
    }

    /** Deletes the directory, never crossing into another filesystem (a mount that could not be detached). */
    private void deleteDirectory() {
        Path dir = layout.dir();
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Object device;
        try {
            device = Files.getAttribute(dir, "unix:dev", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            problems.add("cannot stat " + dir + ": " + e.getMessage());
            return;
        }
        List<String> kept = new ArrayList<>();
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                    if (!device.equals(Files.getAttribute(d, "unix:dev", LinkOption.NOFOLLOW_LINKS))) {
                        kept.add(d.toString());
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
                public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw e;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    if (e != null && !(e instanceof NoSuchFileException)) {
                        throw e;
                    }
                    if (kept.stream().noneMatch(k -> k.startsWith(d + "/") || k.equals(d.toString()))) {
                        Files.deleteIfExists(d);
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
            if (!kept.isEmpty()) {
                problems.add("kept " + dir + ": other filesystems are still mounted at " + kept);
            } else {
                actions.add("deleted " + dir);
            }
        } catch (IOException e) {
            problems.add("cannot delete " + dir + ": " + e);
        }
    }

    private boolean mentions(Path procFile) {
        try {
            return new String(Files.readAllBytes(procFile), StandardCharsets.UTF_8).contains(marker);
        } catch (IOException e) {
            return false;   // exited, or a kernel thread
        }
    }

    private static Set<Integer> ancestors(int pid) {
        Set<Integer> out = new HashSet<>();
        for (int p = pid; p > 0 && out.add(p); p = parentOf(p)) {
            // walk up to init
        }
        return out;
    }

    /** The parent pid from /proc/PID/stat, -1 when the process is gone. */
    static int parentOf(int pid) {
        String stat = stat(pid);
        if (stat == null) {
            return -1;
        }
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(f[1]);
    }

    /** Whether pid exists and is not a zombie. */
    static boolean alive(int pid) {
        String stat = stat(pid);
        return stat != null && stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    }

    private static String stat(int pid) {
        try {
            return Files.readString(Path.of("/proc", Integer.toString(pid), "stat"));
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * A kava shim waiting as the spare for this containerd's next pod belongs to containerd's idle state:
     * its command line ends with {@code -socket <dir>/spare/<n>.sock spare} and that socket is still in the
     * spare directory (a claimed spare's socket has moved to its pod's address: then it is a pod's shim).
     */
    static boolean isIdleSpare(String cmd) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("-socket (\\S+/spare/\\S+\\.sock) spare$").matcher(cmd);
        return m.find() && Files.exists(Path.of(m.group(1)));
    }

    static String commandLine(int pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' ').strip();
        } catch (IOException e) {
            return "?";
        }
    }

    private static List<Path> children(Path dir) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return out;
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            s.forEach(out::add);
        } catch (IOException e) {
            // vanished meanwhile
        }
        return out;
    }

    private static int depth(String path) {
        return (int) path.chars().filter(c -> c == '/').count();
    }

    private static String sha256(String s) {
        try {
            return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
