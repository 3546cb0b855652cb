package dev.kava.hypervisor.qemu;

import com.google.gson.JsonElement;
import dev.kava.hypervisor.AgentEndpoint;
import dev.kava.hypervisor.Capabilities;
import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.hypervisor.VmConfig;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One microvm QEMU process and its QMP connection, and the virtio-fs shares this process serves
 * it ({@link VirtioFsShare}: started before QEMU, stopped after it).
 *
 * <p>{@link #start} launches QEMU (its own stdout/stderr go to {@code <state>/qemu.log}), then
 * polls for the QMP socket with a short exponential backoff (1 ms doubling to 50 ms) until QMP
 * answers, QEMU dies, or the timeout passes. {@link #stop} sends QMP {@code quit}
 * ({@code system_powerdown} does nothing on microvm without ACPI), then SIGTERM after half the
 * grace, then SIGKILL. A JVM shutdown hook kills a still-running QEMU so that a runtime exiting
 * normally never leaves one behind (a runtime killed with SIGKILL does; the runtime's persisted
 * state has the pid).
 */
public final class QemuHypervisor implements Hypervisor {

    private static final Duration QMP_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(2);
    private static final int LOG_TAIL = 2048;

    private enum State { NEW, PREPARED, RUNNING, STOPPED, CLOSED }

    private final Path qemu;
    private final Acceleration accel;
    private final String sandboxId;
    private final Path stateDir;
    private final StateFiles files;
    private final CompletableFuture<Integer> exited = new CompletableFuture<>();
    private final List<Device> devices = new ArrayList<>();
    private final List<VirtioFsShare> shares = new ArrayList<>();

    private State state = State.NEW;
    private VmConfig config;
    private volatile Process process;
    private Qmp qmp;
    private Thread shutdownHook;

    QemuHypervisor(Path qemu, Acceleration accel, String sandboxId, Path stateDir) {
        this.qemu = qemu;
        this.accel = accel;
        this.sandboxId = sandboxId;
        this.stateDir = stateDir.toAbsolutePath().normalize();
        this.files = StateFiles.in(this.stateDir);
    }

    @Override
    public synchronized void prepare(VmConfig config) {
        Objects.requireNonNull(config, "config");
        requireState(State.NEW, "prepare");
        requireFile(config.kernel(), "kernel");
        requireFile(config.rootImage(), "root image");
        Path consoleDir = config.consoleLog().toAbsolutePath().getParent();
        if (consoleDir == null || !Files.isDirectory(consoleDir)) {
            throw new HypervisorException("directory of the console log " + config.consoleLog() + " does not exist");
        }
        for (Path socket : List.of(files.qmpSocket(), files.agentSocket())) {
            if (socket.toString().getBytes(StandardCharsets.UTF_8).length > StateFiles.MAX_SOCKET_PATH) {
                throw new HypervisorException("state directory path is too long for a unix socket (max "
                        + StateFiles.MAX_SOCKET_PATH + " bytes): " + socket);
            }
        }
        try {
            Files.createDirectories(stateDir);
        } catch (IOException e) {
            throw new HypervisorException("cannot create state directory " + stateDir + ": " + e, e);
        }
        this.config = config;
        state = State.PREPARED;
    }

    @Override
    public synchronized void addDevice(Device device) {
        Objects.requireNonNull(device, "device");
        requireState(State.PREPARED, "addDevice");
        switch (device) {
            case Device.SharedFs s -> {
                if (s.kind() == Device.SharedFs.Kind.VIRTIO_FS) {
                    Path socket = files.virtioFsSocket(s.tag());
                    if (socket.toString().getBytes(StandardCharsets.UTF_8).length > StateFiles.MAX_SOCKET_PATH) {
                        throw new HypervisorException("state directory path is too long for the virtio-fs socket (max "
                                + StateFiles.MAX_SOCKET_PATH + " bytes): " + socket);
                    }
                }
                if (!Files.isDirectory(s.hostPath())) {
                    throw new HypervisorException("shared fs '" + s.tag() + "': " + s.hostPath() + " is not a directory");
                }
                if (devices.stream().anyMatch(d -> d instanceof Device.SharedFs o && o.tag().equals(s.tag()))) {
                    throw new HypervisorException("shared fs tag '" + s.tag() + "' is used twice");
                }
            }
            case Device.BlockDevice b -> requireFile(b.path(), "block device");
        }
        devices.add(device);
    }

    /** The argv QEMU is (or will be) started with; for logs and debugging. */
    public synchronized List<String> commandLine() {
        if (config == null) throw new HypervisorException("sandbox " + sandboxId + ": commandLine before prepare");
        return QemuCommandLine.build(qemu, accel, sandboxId, config, devices, files);
    }

    @Override
    public synchronized void start(Duration bootTimeout) {
        Objects.requireNonNull(bootTimeout, "bootTimeout");
        if (bootTimeout.isNegative() || bootTimeout.isZero()) throw new IllegalArgumentException("bootTimeout must be positive");
        requireState(State.PREPARED, "start");
        List<String> argv = commandLine();
        Instant deadline = Instant.now().plus(bootTimeout);
        deleteFiles(files.all());
        deleteFiles(virtioFsSockets());
        try {
            for (Device d : devices) {
                if (d instanceof Device.SharedFs s && s.kind() == Device.SharedFs.Kind.VIRTIO_FS) {
                    shares.add(VirtioFsShare.start(s, files.virtioFsSocket(s.tag())));
                }
            }
        } catch (HypervisorException e) {
            closeShares();
            state = State.STOPPED;
            throw new HypervisorException("sandbox " + sandboxId + ": " + e.getMessage(), e);
        }
        try {
            process = new ProcessBuilder(argv)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(files.qemuLog().toFile())
                    .start();
        } catch (IOException e) {
            closeShares();
            state = State.STOPPED;
            throw new HypervisorException("cannot launch " + qemu + " for sandbox " + sandboxId + ": " + e, e);
        }
        Process p = process;
        p.onExit().thenAccept(done -> exited.complete(done.exitValue()));
        state = State.RUNNING;
        shutdownHook = Thread.ofPlatform().name("kava-qemu-kill-" + sandboxId).unstarted(p::destroyForcibly);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        try {
            qmp = awaitQmp(p, deadline, bootTimeout);
        } catch (HypervisorException e) {
            kill(p);
            finishStop();
            throw e;
        }
    }

    private Qmp awaitQmp(Process p, Instant deadline, Duration bootTimeout) {
        long backoffMs = 1;
        IOException last = null;
        while (true) {
            if (!p.isAlive()) {
                throw failure("QEMU exited with code " + exitCode(p) + " before QMP answered");
            }
            if (Files.exists(files.qmpSocket())) {
                try {
                    return Qmp.connect(files.qmpSocket(), deadline);
                } catch (IOException e) {
                    last = e; // not listening yet, or QEMU died while we talked: loop and look again
                }
            }
            if (!Instant.now().isBefore(deadline)) {
                throw failure("QEMU did not answer on QMP within " + bootTimeout.toMillis() + " ms"
                        + (last != null ? " (last error: " + last.getMessage() + ")" : ""));
            }
            try {
                p.waitFor(backoffMs, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw failure("interrupted while waiting for QEMU");
            }
            backoffMs = Math.min(50, backoffMs * 2);
        }
    }

    private static int exitCode(Process p) {
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private HypervisorException failure(String cause) {
        StringBuilder m = new StringBuilder("sandbox ").append(sandboxId).append(": ").append(cause);
        String qemuLog = tail(files.qemuLog());
        if (!qemuLog.isBlank()) m.append("\n--- qemu.log (tail) ---\n").append(qemuLog.strip());
        String console = tail(config.consoleLog());
        if (!console.isBlank()) m.append("\n--- console (tail) ---\n").append(console.strip());
        return new HypervisorException(m.toString());
    }

    @Override
    public void pause() {
        qmp("stop");
    }

    @Override
    public void resume() {
        qmp("cont");
    }

    /** QMP {@code query-status}: "running", "paused", "shutdown", "internal-error", ... */
    public String status() {
        return qmp("query-status").getAsJsonObject().get("status").getAsString();
    }

    private synchronized JsonElement qmp(String command) {
        if (state != State.RUNNING || qmp == null || !isRunning()) {
            throw new HypervisorException("sandbox " + sandboxId + ": " + command + " needs a running VM");
        }
        try {
            return qmp.execute(command, QMP_TIMEOUT);
        } catch (IOException e) {
            throw new HypervisorException("sandbox " + sandboxId + ": QMP " + command + ": " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void stop(Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (state != State.RUNNING) return;
        Process p = process;
        Duration half = grace.dividedBy(2);
        if (p.isAlive() && qmp != null) {
            try {
                qmp.execute("quit", Instant.now().plus(half));
            } catch (IOException | HypervisorException e) {
                // QEMU may close the socket before answering; the wait below decides
            }
        }
        if (!waitFor(p, half)) {
            p.destroy(); // SIGTERM: QEMU exits cleanly on it
            if (!waitFor(p, grace.minus(half))) kill(p);
        }
        finishStop();
    }

    /** SIGKILL and wait until the process is reaped. */
    private void kill(Process p) {
        p.destroyForcibly();
        if (!waitFor(p, Duration.ofSeconds(10))) {
            throw new HypervisorException("sandbox " + sandboxId + ": QEMU pid " + p.pid() + " survived SIGKILL");
        }
    }

    private static boolean waitFor(Process p, Duration d) {
        try {
            return p.waitFor(Math.max(0, d.toMillis()), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !p.isAlive();
        }
    }

    private void finishStop() {
        Process p = process;
        if (p != null && !p.isAlive()) exited.complete(p.exitValue());
        if (qmp != null) {
            qmp.close();
            qmp = null;
        }
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or about to: it kills nothing that is not already gone
            }
            shutdownHook = null;
        }
        closeShares();
        deleteFiles(List.of(files.qmpSocket(), files.agentSocket(), files.pidFile()));
        state = State.STOPPED;
    }

    /** Stops every virtio-fs backend (QEMU is gone or never came). */
    private void closeShares() {
        for (VirtioFsShare s : shares) {
            try {
                s.close();
            } catch (RuntimeException e) {
                System.getLogger(QemuHypervisor.class.getName()).log(System.Logger.Level.WARNING,
                        "sandbox " + sandboxId + ": closing " + s, e);
            }
        }
        shares.clear();
    }

    private List<Path> virtioFsSockets() {
        return devices.stream().filter(d -> d instanceof Device.SharedFs s && s.kind() == Device.SharedFs.Kind.VIRTIO_FS)
                .map(d -> files.virtioFsSocket(((Device.SharedFs) d).tag())).toList();
    }

    /** FUSE requests the virtio-fs shares served so far (for figures and tests). */
    public synchronized long virtioFsRequests() {
        return shares.stream().mapToLong(s -> s.device().requests()).sum();
    }

    @Override
    public boolean isRunning() {
        Process p = process;
        return p != null && p.isAlive();
    }

    @Override
    public CompletableFuture<Integer> exited() {
        return exited.copy();
    }

    @Override
    public AgentEndpoint agentEndpoint() {
        return new AgentEndpoint.UnixSerial(files.agentSocket());
    }

    @Override
    public OptionalLong pid() {
        Process p = process;
        return p == null ? OptionalLong.empty() : OptionalLong.of(p.pid());
    }

    @Override
    public List<Long> threadIds() {
        Process p = process;
        if (p == null || !p.isAlive()) return List.of();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(p.pid()), "task"))) {
            return tasks.map(t -> t.getFileName().toString()).filter(s -> s.matches("[0-9]+"))
                    .map(Long::valueOf).sorted().toList();
        } catch (IOException e) {
            return List.of(); // the process exited while we looked
        }
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(accel.kvm(), true, true, true, false);
    }

    @Override
    public synchronized void close() {
        if (state == State.CLOSED) return;
        try {
            stop(CLOSE_GRACE);
        } finally {
            Process p = process;
            if (p != null && p.isAlive()) kill(p);
            closeShares();
            deleteFiles(files.all());
            deleteFiles(virtioFsSockets());
            state = State.CLOSED;
        }
    }

    private void requireState(State wanted, String op) {
        if (state != wanted) {
            throw new HypervisorException("sandbox " + sandboxId + ": " + op + " in state " + state
                    + " (needs " + wanted + ")");
        }
    }

    private static void requireFile(Path p, String what) {
        if (!Files.isRegularFile(p) && !isBlockDevice(p)) {
            throw new HypervisorException(what + " " + p + " does not exist or is not a file");
        }
        if (!Files.isReadable(p)) throw new HypervisorException(what + " " + p + " is not readable");
    }

    private static boolean isBlockDevice(Path p) {
        try {
            return Files.exists(p) && !Files.isDirectory(p) && !Files.isRegularFile(p)
                    && Files.readAttributes(p, "unix:mode").get("mode") instanceof Integer mode
                    && (mode & 0170000) == 0060000;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static void deleteFiles(List<Path> paths) {
        for (Path f : paths) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                // a file we cannot delete in our own state directory: leave it for the runtime's cleanup
            }
        }
    }

    private static String tail(Path file) {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long len = f.length();
            long from = Math.max(0, len - LOG_TAIL);
            byte[] b = new byte[(int) (len - from)];
            f.seek(from);
            f.readFully(b);
            return new String(b, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
