package dev.kava.cli.containerd;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A containerd of our own, as a child process, on a directory it owns ({@code /run/kava-ctrd-XXXXXXXX}):
 * config, root, state, the gRPC socket {@code containerd.sock}, the ttrpc socket and its log. The
 * overlayfs snapshotter serves both ctr and CRI; CRI has the runtimes of {@link ContainerdOptions#runtimes()}
 * and pods can only use the host network (no CNI plugin).
 *
 * <p>{@link #close()} leaves nothing: containerd stops, every task it still has is deleted, then shims,
 * container processes, mounts and the directory are removed by force. Not thread-safe except
 * {@link #ctr}, which may run concurrently.
 *
 * <p>Outside the directory, containerd-shim-runc-v2 keeps runc state in {@code /run/containerd/runc/NS/ID}
 * and its sockets in {@code /run/containerd/s/}, and runc makes cgroups {@code /NS/ID}: two containerds
 * using one namespace share those, so give containers unique ids when tests may run side by side.
 */
public final class PrivateContainerd implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PrivateContainerd.class.getName());
    private static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration TASK_CLEANUP_BUDGET = Duration.ofSeconds(20);

    private final ContainerdOptions options;
    private final Layout layout;
    private final String containerd = Commands.which("containerd", "/usr/bin/containerd");
    private final String ctr = Commands.which("ctr", "/usr/bin/ctr");
    /** Closes this containerd should the JVM exit (or be sent SIGTERM) before {@link #close()}. */
    private final Thread shutdownHook = new Thread(this::closeQuietly, "private-containerd-cleanup");
    private volatile Process process;
    private volatile Duration lastStartup = Duration.ZERO;
    private boolean closed;

    private PrivateContainerd(ContainerdOptions options, Layout layout) {
        this.options = options;
        this.layout = layout;
    }

    /** Starts containerd with {@link ContainerdOptions#defaults()}. */
    public static PrivateContainerd start() {
        return start(ContainerdOptions.defaults());
    }

    /**
     * Creates the private directory, writes the config, starts containerd and waits until it answers.
     * When that fails, everything is removed again before the exception is thrown.
     *
     * @throws ContainerdException with the tail of containerd's log when it exits or does not answer in time
     */
    public static PrivateContainerd start(ContainerdOptions options) {
        Layout layout = new Layout(createDirectory(options.parentDir()));
        PrivateContainerd c = new PrivateContainerd(options, layout);
        try {
            Files.writeString(layout.owner(), ProcessHandle.current().pid() + " " + startMillis(ProcessHandle.current()) + "\n");
            Files.createDirectories(layout.cniConfDir());
            Files.createDirectories(layout.cniBinDir());
            Files.writeString(layout.config(), ConfigToml.render(layout, options));
            Runtime.getRuntime().addShutdownHook(c.shutdownHook);
            c.launch();
            return c;
        } catch (IOException | RuntimeException e) {
            try {
                c.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof IOException io) {
                throw new ContainerdException("cannot prepare " + layout.dir() + ": " + io.getMessage(), io);
            }
            throw (RuntimeException) e;
        }
    }

    /** The gRPC socket path (what {@code ctr --address} and CRI clients dial). */
    public String address() {
        return layout.socket().toString();
    }

    /** The ttrpc socket path (what shims get as {@code TTRPC_ADDRESS}, for events). */
    public String ttrpcAddress() {
        return layout.ttrpcSocket().toString();
    }

    /** The private directory that holds everything. */
    public Path dir() {
        return layout.dir();
    }

    /** containerd's root: content, metadata, snapshots. */
    public Path root() {
        return layout.root();
    }

    /** containerd's state: task bundles ({@code io.containerd.runtime.v2.task/NS/ID}), CRI sandboxes. */
    public Path state() {
        return layout.state();
    }

    /** The log containerd writes (stdout and stderr; shim stderr is copied into it too). */
    public Path logFile() {
        return layout.log();
    }

    /** The namespace {@link #ctr} works in. */
    public String namespace() {
        return options.namespace();
    }

    public ContainerdOptions options() {
        return options;
    }

    /** containerd's pid, or -1 when it is not running. */
    public long pid() {
        Process p = process;
        return p != null && p.isAlive() ? p.pid() : -1;
    }

    /** From launching containerd to its first answer, for the last start or restart. */
    public Duration startupTime() {
        return lastStartup;
    }

    /** {@code ctr --address ADDR --namespace NS args...} with no stdin. */
    public CommandResult ctr(String... args) {
        return ctrIn(options.namespace(), null, args);
    }

    /** {@code ctr} with {@code stdin} as its standard input. */
    public CommandResult ctr(byte[] stdin, String... args) {
        return ctrIn(options.namespace(), new ByteArrayInputStream(stdin), args);
    }

    /** {@code ctr} with its standard input read from {@code stdin} (not closed here) until end of stream. */
    public CommandResult ctr(InputStream stdin, String... args) {
        return ctrIn(options.namespace(), stdin, args);
    }

    /**
     * {@code ctr} in another namespace ({@link ContainerdOptions#CRI_NAMESPACE} for what CRI made). Output is
     * captured whole; a command still running after {@link ContainerdOptions#commandTimeout()} is killed and
     * reported as a {@link ContainerdException}. A non-zero exit status is not an exception: see
     * {@link CommandResult#orThrow()}.
     */
    public CommandResult ctrIn(String namespace, InputStream stdin, String... args) {
        return Commands.run(ctrCommand(namespace, args), Map.of(), stdin, options.commandTimeout());
    }

    /**
     * The command line of {@code ctr} against this containerd, to start it oneself (for a process that must
     * run in the background, or a benchmark that times it).
     */
    public List<String> ctrCommand(String namespace, String... args) {
        List<String> cmd = new ArrayList<>(List.of(ctr, "--address", address(), "--namespace", namespace));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * What should be gone once every container and pod was removed, while containerd keeps running: processes
     * naming this directory (shims, containers) other than containerd, runc containers with a bundle here,
     * task bundles, and mounts under the directory. Empty when all is clean.
     */
    public List<String> leftovers() {
        return Reaper.leftovers(layout, pid());
    }

    /** The last {@code lines} lines of containerd's log. */
    public String logTail(int lines) {
        return tail(layout.log(), lines);
    }

    /**
     * Stops containerd with SIGTERM (SIGKILL after {@link ContainerdOptions#stopTimeout()}) and starts it
     * again on the same directories. Shims and their tasks keep running meanwhile.
     */
    public synchronized void restart() {
        ensureOpen();
        stop();
        launch();
    }

    /**
     * Stops containerd and removes everything it and its shims left.
     *
     * @throws ContainerdException when something could not be removed (the message lists it)
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException | IllegalArgumentException e) {
            // the JVM is shutting down (this may be the hook itself), or the hook was never added
        }
        List<String> problems = new ArrayList<>();
        if (pid() > 0) {
            try {
                deleteAllTasks();
            } catch (RuntimeException e) {
                problems.add("deleting tasks: " + e.getMessage());
            }
        }
        stop();
        Reaper.Report report = Reaper.reap(layout, java.util.Set.of(options.namespace(), ContainerdOptions.CRI_NAMESPACE));
        if (!report.actions().isEmpty()) {
            LOG.log(System.Logger.Level.DEBUG, "cleanup of {0}: {1}", layout.dir(), report.actions());
        }
        problems.addAll(report.problems());
        if (!problems.isEmpty()) {
            throw new ContainerdException("containerd in " + layout.dir() + " left things that could not be removed: "
                    + String.join("; ", problems));
        }
    }

    /**
     * Removes the directories of private containerds whose owning JVM is gone (a test run that was killed),
     * with everything they left: shims, containers, mounts. Directories of running owners are not touched.
     *
     * @return the directories removed
     */
    public static List<Path> reapStale(Path parentDir) {
        List<Path> reaped = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parentDir, Layout.PREFIX + "*")) {
            for (Path dir : dirs) {
                Layout l = new Layout(dir);
                if (ownerAlive(l)) {
                    continue;
                }
                String p = Commands.readOrNull(l.pidFile());
                if (p != null) {
                    ProcessHandle.of(Long.parseLong(p.strip())).filter(h -> h.info().command().orElse("").endsWith("containerd"))
                            .ifPresent(ProcessHandle::destroyForcibly);
                }
                Reaper.Report r = Reaper.reap(l, java.util.Set.of(ContainerdOptions.CRI_NAMESPACE));
                problems.addAll(r.problems());
                reaped.add(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!problems.isEmpty()) {
            throw new ContainerdException("stale containerd directories left things behind: " + String.join("; ", problems));
        }
        return reaped;
    }

    @Override
    public String toString() {
        return "PrivateContainerd[" + layout.dir() + ", pid " + pid() + "]";
    }

    private void launch() {
        ProcessBuilder pb = new ProcessBuilder(containerd, "--config", layout.config().toString())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(layout.log().toFile()));
        Map<String, String> env = pb.environment();
        String path = env.getOrDefault("PATH", DEFAULT_PATH);
        if (!(":" + path + ":").contains(":/usr/sbin:")) {
            path = path + ":" + DEFAULT_PATH;   // runc is in /usr/sbin
        }
        if (options.extraPath() != null) {
            path = options.extraPath().toAbsolutePath() + ":" + path;
        }
        env.put("PATH", path);
        env.putAll(options.env());
        long t0 = System.nanoTime();
        try {
            process = pb.start();
            Files.writeString(layout.pidFile(), process.pid() + "\n");
        } catch (IOException e) {
            throw new ContainerdException("cannot start " + containerd + ": " + e.getMessage(), e);
        }
        awaitReady(t0);
        lastStartup = Duration.ofNanos(System.nanoTime() - t0);
    }

    private void awaitReady(long t0) {
        long deadline = t0 + options.startTimeout().toNanos();
        String lastProblem = "the socket " + address() + " never appeared";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new ContainerdException("containerd exited with status " + process.exitValue() + " while starting;"
                        + " the end of " + layout.log() + ":\n" + logTail(30));
            }
            if (Files.exists(layout.socket())) {
                CommandResult r = Commands.run(ctrCommand(options.namespace(), "version"), Map.of(), null, PROBE_TIMEOUT);
                if (r.ok()) {
                    return;
                }
                lastProblem = "ctr version: " + r.stderr().strip();
            }
            sleep(10);
        }
        throw new ContainerdException("containerd did not answer within " + options.startTimeout().toMillis() + " ms ("
                + lastProblem + "); the end of " + layout.log() + ":\n" + logTail(30));
    }

    /** Best effort, while containerd runs: delete every task (SIGKILL), so shims clean up as in normal use. */
    private void deleteAllTasks() {
        long deadline = System.nanoTime() + TASK_CLEANUP_BUDGET.toNanos();
        CommandResult nss = Commands.run(ctrCommand(options.namespace(), "namespaces", "ls", "-q"), Map.of(), null, PROBE_TIMEOUT);
        for (String ns : nss.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).toList()) {
            CommandResult tasks = Commands.run(ctrCommand(ns, "tasks", "ls", "-q"), Map.of(), null, PROBE_TIMEOUT);
            for (String id : tasks.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).toList()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                CommandResult r = Commands.run(ctrCommand(ns, "tasks", "delete", "--force", id), Map.of(), null,
                        Duration.ofNanos(Math.min(left, TimeUnit.SECONDS.toNanos(10))));
                LOG.log(System.Logger.Level.DEBUG, "left-over task {0}/{1} deleted: {2}", ns, id, r.ok());
            }
        }
    }

    /** SIGTERM, then SIGKILL after the stop timeout; returns when containerd has exited. */
    private void stop() {
        Process p = process;
        if (p == null) {
            return;
        }
        try {
            p.destroy();   // SIGTERM
            if (!p.waitFor(options.stopTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "containerd {0} ignored SIGTERM for {1} ms: SIGKILL", p.pid(),
                        options.stopTimeout().toMillis());
                p.destroyForcibly();
                p.waitFor();
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            process = null;
        }
    }

    private void closeQuietly() {
        try {
            close();
        } catch (RuntimeException e) {
            System.err.println("kava: " + e.getMessage());
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    private static Path createDirectory(Path parent) {
        SecureRandom random = new SecureRandom();
        for (int attempt = 0; attempt < 10; attempt++) {
            byte[] b = new byte[4];
            random.nextBytes(b);
            Path dir = parent.toAbsolutePath().resolve(Layout.PREFIX + HexFormat.of().formatHex(b));
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));   // umask
            } catch (java.nio.file.FileAlreadyExistsException e) {
                continue;
            } catch (IOException e) {
                throw new ContainerdException("cannot create a directory in " + parent + ": " + e.getMessage(), e);
            }
            if (new Layout(dir).ttrpcSocket().toString().length() > 100) {
                throw new ContainerdException("the directory " + dir + " is too long for unix socket paths (107 bytes): "
                        + "choose a shorter parent directory");
            }
            return dir;
        }
        throw new ContainerdException("cannot find a free directory name in " + parent);
    }

    private static boolean ownerAlive(Layout l) {
        String owner = Commands.readOrNull(l.owner());
        if (owner == null) {
            // being created this very moment, or never got further: judge by age
            try {
                return Files.getLastModifiedTime(l.dir()).toMillis() > System.currentTimeMillis() - 60_000;
            } catch (IOException e) {
                return false;
            }
        }
        String[] f = owner.strip().split(" ");
        return ProcessHandle.of(Long.parseLong(f[0])).map(h -> Long.toString(startMillis(h)).equals(f[1])).orElse(false);
    }

    private static long startMillis(ProcessHandle h) {
        return h.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
    }

    static String tail(Path file, int lines) {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long len = f.length();
            long from = Math.max(0, len - 256L * 1024);
            byte[] b = new byte[(int) (len - from)];
            f.seek(from);
            f.readFully(b);
            List<String> all = new String(b, StandardCharsets.UTF_8).lines().toList();
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (java.io.FileNotFoundException e) {
            return "(no log at " + file + ")";
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ContainerdException("interrupted while waiting for containerd", e);
        }
    }
}
