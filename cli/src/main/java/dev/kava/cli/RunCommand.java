package dev.kava.cli;

import dev.kava.linux.Terminal;
import dev.kava.runtime.KavaException;
import dev.kava.runtime.agent.AgentClient;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.container.Container;
import dev.kava.runtime.container.ContainerConfig;
import dev.kava.runtime.container.StdioBridge;
import dev.kava.runtime.container.Volume;
import dev.kava.runtime.handler.RuntimeHandlers;
import dev.kava.runtime.image.Image;
import dev.kava.runtime.image.ImageException;
import dev.kava.runtime.image.ImageStore;
import dev.kava.runtime.oci.OciSpec;
import dev.kava.runtime.sandbox.Sandbox;
import dev.kava.ttrpc.Code;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code kava run IMAGE [CMD...]}: one container in a fresh VM, attached to this terminal; the VM
 * and every host resource are gone when it returns. Exit status: the container's, or 125 when kava
 * itself fails, 127 when the command does not exist.
 */
@Command(name = "run", description = "Run a command in a new container inside its own VM.",
        sortOptions = false)
final class RunCommand implements Callable<Integer> {
    @Mixin
    ConfigOption config;

    @Option(names = "--rm", description = "remove the container when it exits (always the case today: there is no detached mode)")
    boolean rm;

    @Option(names = {"-i", "--interactive"}, description = "keep stdin open and send it to the container")
    boolean interactive;

    @Option(names = {"-t", "--tty"}, description = "allocate a terminal for the container; when stdin is a terminal too, what you type goes to it")
    boolean tty;

    @Option(names = "--name", description = "sandbox and container id (default: random)")
    String name;

    @Option(names = {"-e", "--env"}, paramLabel = "KEY=VALUE", description = "set an environment variable")
    List<String> env = new ArrayList<>();

    @Option(names = {"-w", "--workdir"}, description = "working directory inside the container")
    String workdir;

    @Option(names = {"-u", "--user"}, paramLabel = "UID[:GID]", description = "numeric user (and group) to run as")
    String user;

    @Option(names = {"-v", "--volume"}, paramLabel = "HOST_PATH:CONTAINER_PATH[:ro]",
            description = "bind-mount a host file or directory into the container (read-only with :ro); paths are absolute")
    List<String> volumes = new ArrayList<>();

    @Option(names = "--cpus", description = "vCPUs of the VM (default: hypervisor.vcpus)")
    Integer cpus;

    @Option(names = {"-m", "--memory"}, paramLabel = "MiB", description = "memory of the VM in MiB (default: hypervisor.memory_mib)")
    Integer memory;

    @Option(names = "--stop-timeout", paramLabel = "SECONDS",
            description = "after SIGTERM/SIGINT is forwarded, seconds to wait before SIGKILL (default: runtime.stop_timeout_seconds)")
    Integer stopTimeout;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "\"busybox\", or a path to an OCI image layout (directory or tar) or a docker save archive")
    String image;

    @Parameters(index = "1..*", paramLabel = "CMD", description = "command and arguments (default: the image's)")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        KavaConfig cfg = withOverrides(config.load());
        String id = name != null ? name : HexFormat.of().formatHex(SecureRandom.getSeed(6));
        Image img;
        try {
            img = new ImageStore(cfg.runtime().cacheDir()).resolve(image, msg -> {
                if (!msg.startsWith("using cached")) System.err.println("kava: " + msg);   // only work worth waiting for
            });
        } catch (ImageException e) {
            throw new KavaException(e.getMessage(), e);
        }
        OciSpec.Process process = process(img);
        List<Volume> mounts = new ArrayList<>();
        for (String v : volumes) {
            Volume volume = Volume.parse(v);
            if (!Files.exists(volume.hostPath())) {
                throw new KavaException("-v " + v + ": " + volume.hostPath() + " does not exist");
            }
            mounts.add(volume);
        }

        Sandbox sandbox = RuntimeHandlers.find(cfg.runtime().handler()).newSandbox(id, cfg);
        AtomicReference<Container> running = new AtomicReference<>();
        Signals signals = new Signals(sandbox, running, cfg.runtime().stopTimeout().toMillis());
        Thread cleanup = new Thread(sandbox::close, "kava-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        AutoCloseable raw = null;
        try {
            signals.install();
            sandbox.start();
            Container c = sandbox.createContainer(new ContainerConfig(id, img, process, mounts));
            boolean ttyIn = tty && Terminal.isatty(0);
            if (ttyIn) {
                raw = Terminal.rawMode(0);
            }
            var out = new FileOutputStream(FileDescriptor.out);
            OutputStream err = new FileOutputStream(FileDescriptor.err);
            var bridge = new StdioBridge()
                    .onFirstOutput(s -> sandbox.timeline().mark("first-output"))
                    .start(c, interactive || ttyIn ? new FileInputStream(FileDescriptor.in) : null, out, err, tty);
            if (tty && Terminal.isatty(1)) {
                resize(c);   // before the process starts, so its first look at the size is right
                signals.onWindowChange(() -> resize(c));
            }
            if (signals.pending() != 0) {
                // a signal arrived while the VM booted: do not start the container at all
                return 128 + signals.pending();
            }
            c.start();
            running.set(c);
            int status = c.waitExit();
            bridge.awaitOutput(5_000);
            if (raw != null) {
                raw.close();
                raw = null;
            }
            running.set(null);
            sandbox.timeline().mark("container-done");
            report(sandbox);
            sandbox.close();
            sandbox.timeline().mark("sandbox-closed");
            writeTimeline(sandbox);
            return status;
        } catch (AgentClient.AgentException e) {
            // the agent answers NOT_FOUND when the container's command does not exist
            if (e.code() != Code.NOT_FOUND) throw e;
            System.err.println("kava: " + e.getMessage());
            return 127;
        } finally {
            if (raw != null) raw.close();
            sandbox.close();
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException e) {
                // already shutting down
            }
        }
    }

    private KavaConfig withOverrides(KavaConfig c) {
        var h = c.hypervisor();
        var hyp = new KavaConfig.Hypervisor(h.name(), cpus != null ? cpus : h.vcpus(), memory != null ? memory : h.memoryMiB(),
                h.kernel(), h.image(), h.kernelParams(), h.debugConsole(), h.bootTimeout(), h.sharedFs(), h.virtioFsCache());
        var rt = c.runtime();
        var runtime = new KavaConfig.Runtime(rt.handler(), rt.stateDir(), rt.cacheDir(),
                stopTimeout != null ? java.time.Duration.ofSeconds(stopTimeout) : rt.stopTimeout());
        if (hyp.vcpus() < 1 || hyp.memoryMiB() < 128) throw new KavaException("--cpus must be >= 1 and --memory >= 128");
        return new KavaConfig(c.source(), hyp, c.agent(), runtime);
    }

    private OciSpec.Process process(Image img) {
        List<String> args = img.config().command(command);
        List<String> environment = new ArrayList<>(img.config().env());
        if (environment.stream().noneMatch(e -> e.startsWith("PATH="))) {
            environment.add("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        }
        if (tty) environment.add("TERM=" + (System.getenv("TERM") != null ? System.getenv("TERM") : "xterm"));
        for (String e : env) {
            if (!e.contains("=")) {
                String v = System.getenv(e);
                if (v == null) continue;
                e = e + "=" + v;
            }
            String key = e.substring(0, e.indexOf('=') + 1);
            environment.removeIf(x -> x.startsWith(key));
            environment.add(e);
        }
        int uid = 0, gid = 0;
        String u = user != null ? user : img.config().user();
        if (u != null && !u.isEmpty()) {
            String[] parts = u.split(":", 2);
            try {
                uid = Integer.parseInt(parts[0]);
                gid = parts.length > 1 ? Integer.parseInt(parts[1]) : uid;
            } catch (NumberFormatException e) {
                throw new KavaException("user \"" + u + "\": only numeric UID[:GID] is supported");
            }
        }
        try {
            return new OciSpec.Process(args, environment, workdir != null ? workdir : img.config().workingDir(), uid, gid, tty);
        } catch (IllegalArgumentException e) {
            throw new KavaException(e.getMessage());
        }
    }

    private static void resize(Container c) {
        try {
            var ws = Terminal.windowSize(1);
            c.resizeTty(ws.rows(), ws.cols());
        } catch (RuntimeException e) {
            Main.log().fine("resize: " + e.getMessage());
        }
    }

    /** KAVA_FIGURES=FILE: memory and thread figures while the container still runs (for kava bench). */
    private static void report(Sandbox sandbox) {
        String path = System.getenv("KAVA_FIGURES");
        if (path == null) return;
        var f = sandbox.figures();
        String line = "vm_pid=" + f.vmPid() + " vm_rss_kib=" + f.vmRssKiB() + " kava_rss_kib=" + f.runtimeRssKiB()
                + " guest_used_kib=" + f.guestUsedKiB() + " guest_total_kib=" + f.guestTotalKiB() + " threads=" + f.runtimeThreads() + "\n";
        try {
            Files.writeString(Path.of(path), line, StandardCharsets.UTF_8);
        } catch (IOException e) {
            Main.log().warning("cannot write " + path + ": " + e.getMessage());
        }
    }

    /** KAVA_TIMELINE=FILE: when each step happened, in ms since the JVM started (for kava bench). */
    private static void writeTimeline(Sandbox sandbox) {
        String path = System.getenv("KAVA_TIMELINE");
        if (path == null) return;
        try {
            Files.writeString(Path.of(path), sandbox.timeline().format() + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            Main.log().warning("cannot write " + path + ": " + e.getMessage());
        }
    }

    /**
     * SIGTERM, SIGINT and SIGHUP to kava go to the container's init; if it has not exited
     * {@code stopMillis} later, it gets SIGKILL. Before the container runs, they abort the start.
     */
    static final class Signals {
        private final Sandbox sandbox;
        private final AtomicReference<Container> running;
        private final long stopMillis;
        private volatile int pending;
        private volatile Runnable onWinch = () -> {};

        Signals(Sandbox sandbox, AtomicReference<Container> running, long stopMillis) {
            this.sandbox = sandbox;
            this.running = running;
            this.stopMillis = stopMillis;
        }

        @SuppressWarnings("restriction")
        void install() {
            for (String name : List.of("TERM", "INT", "HUP")) {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> received(s.getNumber()));
            }
            sun.misc.Signal.handle(new sun.misc.Signal("WINCH"), s -> onWinch.run());
        }

        int pending() {
            return pending;
        }

        void onWindowChange(Runnable r) {
            onWinch = r;
        }

        private void received(int signal) {
            if (running.get() == null) {
                pending = signal;
                return;
            }
            forward(signal);
        }

        void forward(int signal) {
            Container c = running.get();
            if (c == null) return;
            Thread.ofVirtual().start(() -> {
                try {
                    c.signal(signal, false);
                    Thread.sleep(stopMillis);
                    if (running.get() == c) {
                        c.signal(dev.kava.linux.Signals.SIGKILL, true);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    Main.log().fine("forwarding signal " + signal + ": " + e.getMessage());
                }
            });
        }
    }
}
