package dev.kava.agent.container;

import com.google.gson.JsonObject;
import dev.kava.agent.AgentConfig;
import dev.kava.agent.AgentErrors;
import dev.kava.agent.Interruptible;
import dev.kava.agent.guest.StorageMounts;
import dev.kava.agent.oci.OciSpec;
import dev.kava.agent.process.ChildProcesses;
import dev.kava.agent.stream.ProcessStdio;
import dev.kava.api.agent.CreateContainerRequest;
import dev.kava.api.agent.ExecProcessRequest;
import dev.kava.api.agent.RemoveContainerRequest;
import dev.kava.api.agent.SignalProcessRequest;
import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.Processes;
import dev.kava.linux.Signals;
import dev.kava.ttrpc.CallContext;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Container lifecycle with crun: create, start, exec, signal, wait, pause, resume, update,
 * remove. The container registry lives here; the RPC layer only translates messages.
 */
public final class ContainerService {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.container");
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}");
    /** How long crun has to hand over a terminal after it exits or starts an exec. */
    private static final long CONSOLE_WAIT_MS = 10_000;
    /** Status of a process whose executable does not exist, as a shell reports it. */
    public static final int NOT_FOUND_STATUS = 127;

    private final AgentConfig config;
    private final ChildProcesses children;
    private final Crun crun;
    private final Map<String, Container> containers = new ConcurrentHashMap<>();

    public ContainerService(AgentConfig config, ChildProcesses children) {
        this.config = config;
        this.children = children;
        this.crun = new Crun(config.crun(), config.crunRoot(), children);
    }

    public AgentConfig config() {
        return config;
    }

    /** Checks an id the host chose for a container or exec: it becomes a file name. */
    public static String checkId(String id, String what) throws TtrpcException {
        if (id == null || id.isEmpty()) {
            throw AgentErrors.invalid(what + " is empty");
        }
        if (!ID.matcher(id).matches()) {
            throw AgentErrors.invalid(what + " `" + id + "` is not valid (letters, digits, _.+- only, at most 128)");
        }
        return id;
    }

    /** The container, or NOT_FOUND. */
    Container get(String id) throws TtrpcException {
        Container c = id == null ? null : containers.get(id);
        if (c == null) {
            throw AgentErrors.notFound("container " + id + " not found");
        }
        return c;
    }

    /** The process of a container, or NOT_FOUND. */
    ContainerProcess process(String containerId, String execId) throws TtrpcException {
        Container c = get(containerId);
        ContainerProcess p = c.process(execId);
        if (p == null) {
            throw AgentErrors.notFound("exec " + execId + " of container " + containerId + " not found");
        }
        return p;
    }

    Collection<Container> all() {
        return containers.values();
    }

    /** CreateContainer: validates the spec, writes the bundle, runs {@code crun create}; returns the pid. */
    public int create(CreateContainerRequest req) throws Exception {
        String id = checkId(req.getContainerId(), "container id");
        String initId = req.getExecId().isEmpty() ? id : checkId(req.getExecId(), "exec id");
        OciSpec spec = OciSpec.parse(req.getOciSpec().toByteArray());
        Container old = containers.get(id);
        if (old != null) {
            if (old.created) {
                throw AgentErrors.alreadyExists("container " + id + " already exists");
            }
            containers.remove(id, old); // a failed create left only its exit status
        }
        List<String> mounts = StorageMounts.mountAll(req.getStoragesList());
        try {
            Path root = spec.resolveRoot(config.sharedDir());
            spec.setRootPath(root);
            String cgroups = spec.cgroupsPathOrDefault("/kava/" + id);
            Path bundle = config.bundle(id);
            Files.createDirectories(bundle);
            Files.write(bundle.resolve("config.json"), spec.toJson());
            Files.deleteIfExists(bundle.resolve("pid"));
            Files.deleteIfExists(bundle.resolve("crun.log"));
            ContainerProcess init = runCreate(id, initId, bundle, spec.terminal(), spec.executable(), mounts, cgroups);
            Container c = new Container(id, bundle, cgroups, init, mounts, true);
            init.exit.whenComplete((status, e) -> c.status = Container.Status.STOPPED);
            if (containers.putIfAbsent(id, c) != null) {
                throw AgentErrors.alreadyExists("container " + id + " already exists");
            }
            LOG.info("created " + id + " pid " + init.pid);
            return init.pid;
        } catch (Exception e) {
            if (!containers.containsKey(id)) {
                StorageMounts.unmountAll(mounts);
            }
            throw e;
        }
    }

    private ContainerProcess runCreate(String id, String initId, Path bundle, boolean terminal,
            String executable, List<String> mounts, String cgroups) throws Exception {
        Path log = bundle.resolve("crun.log");
        List<String> args = new ArrayList<>(List.of("create", "--bundle", bundle.toString(),
                "--pid-file", bundle.resolve("pid").toString()));
        ConsoleSocket console = null;
        ProcessStdio stdio = null;
        try {
            ProcessBuilder pb;
            if (terminal) {
                console = ConsoleSocket.listen(bundle.resolve("console.sock"));
                args.add("--console-socket");
                args.add(console.path().toString());
                args.add(id);
                pb = new ProcessBuilder(crun.command(log, args.toArray(String[]::new)))
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                        .redirectOutput(bundle.resolve("crun.out").toFile())
                        .redirectErrorStream(true);
            } else {
                args.add(id);
                stdio = ProcessStdio.pipes(id);
                pb = new ProcessBuilder(crun.command(log, args.toArray(String[]::new)));
                // crun create hands its own stdio to the container: give it the pipes' child ends
                stdio.redirect(pb);
            }
            int exit;
            int pid;
            ContainerProcess init;
            try (ChildProcesses.Hold hold = children.holdSweeps()) {
                Process p = crun.spawn(pb);
                if (stdio != null) {
                    stdio.started();
                }
                exit = p.waitFor();
                if (exit != 0) {
                    String out = terminal ? readQuietly(bundle.resolve("crun.out")) : "";
                    TtrpcException failure = Crun.failure("create", id, exit, out, log);
                    if (Crun.missingExecutable(failure.getMessage()) != null) {
                        recordFailed(id, initId, bundle, mounts, cgroups);
                    }
                    throw failure;
                }
                if (terminal) {
                    Fd master = console.master(CONSOLE_WAIT_MS);
                    stdio = ProcessStdio.terminal(master, id);
                }
                pid = readPid(bundle.resolve("pid"), id);
                init = new ContainerProcess(initId, stdio);
                init.pid = pid;
                children.adopt(pid, id).whenComplete((status, e) ->
                        init.exit.complete(e == null ? status : 255));
            }
            return init;
        } catch (Exception e) {
            if (stdio != null) {
                stdio.close();
            }
            throw e;
        } finally {
            if (console != null) {
                console.close();
            }
        }
    }

    /** Remembers a container whose executable was missing: WaitProcess reports 127. */
    private void recordFailed(String id, String initId, Path bundle, List<String> mounts, String cgroups) {
        ContainerProcess init = new ContainerProcess(initId, null);
        init.exit.complete(NOT_FOUND_STATUS);
        containers.put(id, new Container(id, bundle, cgroups, init, mounts, false));
    }

    private static int readPid(Path file, String id) throws TtrpcException {
        try {
            return Integer.parseInt(Files.readString(file).strip());
        } catch (IOException | NumberFormatException e) {
            throw AgentErrors.internal("crun create " + id + ": no pid file: " + e.getMessage());
        }
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }

    /** StartContainer: {@code crun start}. */
    public void start(String id) throws Exception {
        Container c = get(id);
        c.lock.lock();
        try {
            if (c.status != Container.Status.CREATED) {
                throw AgentErrors.precondition("container " + id + " is " + c.status.name().toLowerCase()
                        + ", not created");
            }
            Crun.Result r = crun.run("start", id);
            if (!r.ok()) {
                TtrpcException failure = Crun.failure("start", id, r.exit(), r.output(), null);
                if (Crun.missingExecutable(failure.getMessage()) != null) {
                    c.init.exit.complete(NOT_FOUND_STATUS);
                }
                throw failure;
            }
            if (!c.init.exited()) {
                c.status = Container.Status.RUNNING;
            }
            LOG.info("started " + id);
        } finally {
            c.lock.unlock();
        }
    }

    /** ExecProcess: {@code crun exec} in the foreground; returns the pid of the new process. */
    public int exec(ExecProcessRequest req) throws Exception {
        Container c = get(req.getContainerId());
        String execId = checkId(req.getExecId(), "exec id");
        JsonObject process = OciSpec.parseProcess(req.getProcess().toByteArray());
        if (c.status != Container.Status.RUNNING) {
            throw AgentErrors.precondition("container " + c.id + " is " + c.status.name().toLowerCase()
                    + ", not running");
        }
        if (execId.equals(c.init.execId)) {
            throw AgentErrors.alreadyExists("exec " + execId + " already exists in container " + c.id);
        }
        boolean terminal = OciSpec.terminal(process);
        ProcessStdio stdio = terminal ? null : ProcessStdio.pipes(c.id + "." + execId);
        ContainerProcess proc = new ContainerProcess(execId, stdio);
        if (c.execs.putIfAbsent(execId, proc) != null) {
            if (stdio != null) {
                stdio.close();
            }
            throw AgentErrors.alreadyExists("exec " + execId + " already exists in container " + c.id);
        }
        try {
            return runExec(c, proc, process, terminal);
        } catch (Exception e) {
            if (!proc.exit.isDone()) {
                c.execs.remove(execId, proc);
            }
            proc.release();
            throw e;
        }
    }

    private int runExec(Container c, ContainerProcess proc, JsonObject process, boolean terminal) throws Exception {
        String execId = proc.execId;
        Path spec = c.bundle.resolve("exec-" + execId + ".json");
        Path pidFile = c.bundle.resolve("exec-" + execId + ".pid");
        Path log = c.bundle.resolve("exec-" + execId + ".log");
        Files.write(spec, process.toString().getBytes(StandardCharsets.UTF_8));
        Files.deleteIfExists(pidFile);
        Files.deleteIfExists(log);
        List<String> args = new ArrayList<>(List.of("exec", "--process", spec.toString(), "--pid-file",
                pidFile.toString()));
        ConsoleSocket console = null;
        try {
            ProcessBuilder pb;
            if (terminal) {
                console = ConsoleSocket.listen(c.bundle.resolve("exec-" + execId + ".sock"));
                args.add("--console-socket");
                args.add(console.path().toString());
                args.add(c.id);
                pb = new ProcessBuilder(crun.command(log, args.toArray(String[]::new)))
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .redirectError(ProcessBuilder.Redirect.DISCARD);
            } else {
                args.add(c.id);
                pb = new ProcessBuilder(crun.command(log, args.toArray(String[]::new)));
                proc.stdio.redirect(pb);
            }
            Process p = crun.spawn(pb);
            proc.crun = p;
            if (terminal) {
                Fd master = console.masterOrExit(p, CONSOLE_WAIT_MS);
                if (master != null) {
                    proc.stdio = ProcessStdio.terminal(master, c.id + "." + execId);
                }
            } else {
                proc.stdio.started();
            }
            int pid = waitForPidFile(pidFile, p);
            if (pid <= 0) {
                int exit = p.waitFor();
                TtrpcException failure = Crun.failure("exec", c.id + " " + execId, exit, "", log);
                if (Crun.missingExecutable(failure.getMessage()) != null) {
                    proc.exit.complete(NOT_FOUND_STATUS);
                }
                throw failure;
            }
            proc.pid = pid;
            p.onExit().whenComplete((x, e) -> proc.exit.complete(e == null ? x.exitValue() : 255));
            LOG.info("exec " + c.id + " " + execId + " pid " + pid);
            return pid;
        } finally {
            if (console != null) {
                console.close();
            }
        }
    }

    /** Polls for crun's pid file until it holds a pid or crun exits. Returns 0 if crun exited first. */
    private static int waitForPidFile(Path pidFile, Process p) throws InterruptedException {
        long sleep = 1;
        while (true) {
            try {
                String s = Files.readString(pidFile).strip();
                if (!s.isEmpty()) {
                    return Integer.parseInt(s);
                }
            } catch (IOException | NumberFormatException e) {
                // not written yet
            }
            if (p.waitFor(sleep, TimeUnit.MILLISECONDS)) {
                try {
                    String s = Files.readString(pidFile).strip();
                    return s.isEmpty() ? 0 : Integer.parseInt(s);
                } catch (IOException | NumberFormatException e) {
                    return 0;
                }
            }
            sleep = Math.min(sleep * 2, 20);
        }
    }

    /** SignalProcess: kill(2) for one process, {@code crun kill --all} for all of the container. */
    public void signal(SignalProcessRequest req) throws Exception {
        Container c = get(req.getContainerId());
        ContainerProcess p = process(req.getContainerId(), req.getExecId());
        int sig = req.getSignal();
        if (sig < 0 || sig > Signals.MAX) {
            throw AgentErrors.invalid("signal " + sig + " is out of range");
        }
        if (p == c.init && req.getAll()) {
            if (!c.created || c.init.exited()) {
                return;
            }
            crun.check(c.id, "kill", "--all", c.id, Integer.toString(sig));
            return;
        }
        if (p.exited() || p.pid <= 0) {
            return;
        }
        try {
            Processes.kill(p.pid, sig);
        } catch (ErrnoException e) {
            if (e.errno() != Errno.ESRCH) {
                throw e;
            }
        }
    }

    /** WaitProcess: the exit status once the process ended. */
    public int await(String containerId, String execId, CallContext ctx) throws Exception {
        ContainerProcess p = process(containerId, execId);
        return Interruptible.await(ctx, p.exit::get);
    }

    /** PauseContainer / ResumeContainer. */
    public void pause(String id, boolean pause) throws Exception {
        Container c = get(id);
        c.lock.lock();
        try {
            Container.Status want = pause ? Container.Status.RUNNING : Container.Status.PAUSED;
            if (c.status != want) {
                throw AgentErrors.precondition("container " + id + " is " + c.status.name().toLowerCase()
                        + ", not " + want.name().toLowerCase());
            }
            crun.check(id, pause ? "pause" : "resume", id);
            c.status = pause ? Container.Status.PAUSED : Container.Status.RUNNING;
        } finally {
            c.lock.unlock();
        }
    }

    /** UpdateContainer: {@code crun update --resources}. */
    public void update(String id, byte[] resources) throws Exception {
        Container c = get(id);
        JsonObject json = OciSpec.parseObject(resources, "LinuxResources");
        if (!c.created || c.init.exited()) {
            throw AgentErrors.precondition("container " + id + " is stopped");
        }
        Path file = c.bundle.resolve("resources.json");
        Files.write(file, json.toString().getBytes(StandardCharsets.UTF_8));
        crun.check(id, "update", "--resources", file.toString(), id);
    }

    /** RemoveContainer: stop (SIGTERM for {@code timeout} s, then SIGKILL), crun delete, clean up. */
    public void remove(RemoveContainerRequest req, CallContext ctx) throws Exception {
        Container c = get(req.getContainerId());
        c.lock.lock();
        try {
            if (c.created && !c.init.exited() && c.status != Container.Status.CREATED && req.getTimeout() > 0) {
                killQuietly(c.init.pid, Signals.SIGTERM);
                try {
                    Interruptible.await(ctx, () -> c.init.exit.get(req.getTimeout(), TimeUnit.SECONDS));
                } catch (TimeoutException e) {
                    LOG.info(c.id + " did not stop within " + req.getTimeout() + " s: killing it");
                }
            }
            destroy(c);
        } finally {
            c.lock.unlock();
        }
    }

    /** Kills and deletes every container (DestroySandbox). Errors are logged, not thrown. */
    public void removeAll() {
        for (Container c : List.copyOf(containers.values())) {
            c.lock.lock();
            try {
                destroy(c);
            } catch (Exception e) {
                LOG.warning("removing " + c.id + ": " + e.getMessage());
            } finally {
                c.lock.unlock();
            }
        }
    }

    private void destroy(Container c) throws Exception {
        if (c.created) {
            if (!c.init.exited()) {
                killQuietly(c.init.pid, Signals.SIGKILL);
            }
            Crun.Result r = crun.run("delete", "-f", c.id);
            if (!r.ok() && !r.output().contains("does not exist")) {
                throw Crun.failure("delete", c.id, r.exit(), r.output(), null);
            }
            try {
                c.init.exit.get(5, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                LOG.warning(c.id + ": init " + c.init.pid + " still there after crun delete");
            }
        }
        for (ContainerProcess p : c.execs.values()) {
            if (!p.exited() && p.pid > 0) {
                killQuietly(p.pid, Signals.SIGKILL);
            }
            p.release();
        }
        c.init.release();
        StorageMounts.unmountAll(c.mounts);
        deleteTree(c.bundle);
        containers.remove(c.id, c);
        LOG.info("removed " + c.id);
    }

    private static void killQuietly(int pid, int sig) {
        if (pid <= 0) {
            return;
        }
        try {
            Processes.kill(pid, sig);
        } catch (ErrnoException e) {
            // gone already
        }
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.warning("cannot remove " + dir + ": " + e.getMessage());
        }
    }

    /** The cgroup directory of a container. */
    Path cgroupDir(Container c) {
        String rel = c.cgroupsPath.startsWith("/") ? c.cgroupsPath.substring(1) : c.cgroupsPath;
        return config.cgroupRoot().resolve(rel);
    }
}
