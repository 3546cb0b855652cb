package dev.kava.shim.task;

import com.google.gson.JsonObject;
import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.kava.api.agent.CreateContainerRequest;
import dev.kava.api.agent.ExecProcessRequest;
import dev.kava.api.containerd.events.TaskCreate;
import dev.kava.api.containerd.events.TaskDelete;
import dev.kava.api.containerd.events.TaskExecAdded;
import dev.kava.api.containerd.events.TaskExecStarted;
import dev.kava.api.containerd.events.TaskExit;
import dev.kava.api.containerd.events.TaskIO;
import dev.kava.api.containerd.events.TaskOOM;
import dev.kava.api.containerd.events.TaskPaused;
import dev.kava.api.containerd.events.TaskResumed;
import dev.kava.api.containerd.events.TaskStart;
import dev.kava.api.containerd.task.CreateTaskRequest;
import dev.kava.api.containerd.types.task.Status;
import dev.kava.runtime.KavaException;
import dev.kava.runtime.agent.AgentClient;
import dev.kava.runtime.config.KavaConfig;
import dev.kava.runtime.handler.RuntimeHandlers;
import dev.kava.runtime.sandbox.Sandbox;
import dev.kava.runtime.sandbox.VirtSandbox;
import dev.kava.shim.SandboxIds;
import dev.kava.shim.ShimArgs;
import dev.kava.shim.ShimTimeline;
import dev.kava.shim.events.EventPublisher;
import dev.kava.shim.events.Topics;
import dev.kava.shim.io.ProcessIo;
import dev.kava.shim.mgmt.ManagementServer;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A pod: one VM sandbox and the containers containerd created in it. The VM boots with the first
 * container (a CRI pod's sandbox container, or the one container of {@code ctr run}); the pod ends when
 * containerd shuts down the last task, and then nothing of it is left on the host.
 */
public final class Pod implements ManagementServer.Source {
    private static final Logger LOG = Logger.getLogger(Pod.class.getName());
    /** The guest's status for a process whose VM went away. */
    static final int VM_GONE_STATUS = 255;

    private final ShimArgs args;
    private final KavaConfig config;
    private final EventPublisher events;
    private final Runnable onExit;
    private final String sandboxId;
    private final Map<String, ShimContainer> containers = new ConcurrentHashMap<>();
    private VirtSandbox sandbox;
    private ManagementServer management;
    private boolean closed;

    public Pod(ShimArgs args, KavaConfig config, EventPublisher events, Runnable onExit) {
        this.args = args;
        this.config = config;
        this.events = events;
        this.onExit = onExit;
        this.sandboxId = SandboxIds.sandboxId(args.namespace(), args.key());
    }

    String namespace() {
        return args.namespace();
    }

    /** The running sandbox, booting it on first use. */
    private synchronized VirtSandbox sandbox() throws TtrpcException {
        if (closed) throw new TtrpcException(Code.FAILED_PRECONDITION, "the shim is shutting down");
        if (sandbox != null) return sandbox;
        Sandbox s;
        try {
            s = RuntimeHandlers.find(config.runtime().handler()).newSandbox(sandboxId, config);
        } catch (KavaException e) {
            throw new TtrpcException(Code.FAILED_PRECONDITION, e.getMessage());
        }
        if (!(s instanceof VirtSandbox vs)) {
            s.close();
            throw new TtrpcException(Code.FAILED_PRECONDITION, "runtime handler " + config.runtime().handler()
                    + " cannot serve containerd yet (only \"virt\")");
        }
        ShimTimeline.mark(args.id(), "sandbox-start");
        try {
            vs.start();
        } catch (KavaException e) {
            throw new TtrpcException(Code.UNKNOWN, e.getMessage());
        }
        ShimTimeline.mark(args.id(), "sandbox-ready");
        for (var m : vs.timeline().marks()) {
            LOG.fine("sandbox " + sandboxId + ": " + m.name() + " at " + m.millis() + " ms");
        }
        sandbox = vs;
        AgentClient agent = vs.agent();
        Thread.ofVirtual().name("shim-oom").start(() -> watchOom(agent));
        try {
            management = ManagementServer.start(vs.stateDir().resolve("shim-mgmt.sock"), this);
        } catch (IOException e) {
            LOG.warning("no management socket: " + e.getMessage());
        }
        return vs;
    }

    @Override
    public synchronized VirtSandbox runningSandbox() {
        return sandbox;
    }

    @Override
    public String sandboxId() {
        return sandboxId;
    }

    @Override
    public int containerCount() {
        return containers.size();
    }

    // --- Create -------------------------------------------------------------------------------------

    int create(CreateTaskRequest r) throws TtrpcException {
        String id = r.getId();
        ShimTimeline.mark(id, "create-received");
        if (!r.getCheckpoint().isEmpty() || !r.getParentCheckpoint().isEmpty()) {
            throw new TtrpcException(Code.UNIMPLEMENTED, "checkpoint/restore is not supported by kava");
        }
        if (id.isEmpty() || !id.matches("[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")) {
            throw new TtrpcException(Code.INVALID_ARGUMENT, "invalid container id `" + id + "`");
        }
        if (containers.containsKey(id)) throw new TtrpcException(Code.ALREADY_EXISTS, "container " + id + " already exists");
        Path bundle = Path.of(r.getBundle());
        JsonObject spec;
        try {
            spec = GuestSpec.parse(Files.readAllBytes(bundle.resolve("config.json")), "OCI spec " + bundle.resolve("config.json"));
        } catch (IOException e) {
            throw new TtrpcException(Code.INVALID_ARGUMENT, "cannot read " + bundle.resolve("config.json") + ": " + e.getMessage());
        }
        ProcessIo.Paths paths = new ProcessIo.Paths(r.getStdin(), r.getStdout(), r.getStderr(), r.getTerminal());
        VirtSandbox vs = sandbox();
        AgentClient agent = vs.agent();
        ContainerMounts mounts = new ContainerMounts(id, vs.shareDir().resolve(id), vs);
        boolean created = false;
        try {
            mounts.mountRootfs(r.getRootfsList(), bundle.resolve("rootfs"));
            byte[] guestSpec = GuestSpec.forGuest(spec, id, mounts);
            ProcessIo io = ProcessIo.open(id, id, agent, paths);
            ShimTimeline.mark(id, "agent-create-sent");
            int pid = agent.createContainer(CreateContainerRequest.newBuilder()
                    .setContainerId(id).setExecId(id).setOciSpec(ByteString.copyFrom(guestSpec)).build()).getPid();
            created = true;
            ShimTimeline.mark(id, "agent-create-done");
            ShimProcess init = new ShimProcess(id, "", id, paths, null);
            init.pid = pid;
            init.io = io;
            ShimContainer c = new ShimContainer(id, bundle, mounts, init);
            if (containers.putIfAbsent(id, c) != null) {
                throw new TtrpcException(Code.ALREADY_EXISTS, "container " + id + " already exists");
            }
            io.start();
            watch(agent, init);
            events.publish(Topics.CREATE, TaskCreate.newBuilder().setContainerId(id).setBundle(r.getBundle())
                    .addAllRootfs(r.getRootfsList())
                    .setIo(TaskIO.newBuilder().setStdin(r.getStdin()).setStdout(r.getStdout()).setStderr(r.getStderr())
                            .setTerminal(r.getTerminal()))
                    .setPid(pid).build());
            ShimTimeline.mark(id, "create-done");
            LOG.info("created " + id + " (guest pid " + pid + ")");
            return pid;
        } catch (RuntimeException | IOException e) {
            if (created) {
                try {
                    agent.removeContainer(id, 0);
                } catch (RuntimeException re) {
                    LOG.fine("removing " + id + " after a failed create: " + re.getMessage());
                }
            }
            containers.remove(id);
            mounts.close();
            closeIfEmptyAfterFailure();
            throw Errors.map(e);
        }
    }

    /** A pod whose very first container failed has nothing to serve: free its VM now. */
    private synchronized void closeIfEmptyAfterFailure() {
        if (containers.isEmpty() && sandbox != null) {
            LOG.info("no container left after a failed create: stopping the VM");
            stopSandbox();
        }
    }

    // --- processes ----------------------------------------------------------------------------------

    ShimContainer container(String id) throws TtrpcException {
        ShimContainer c = containers.get(id);
        if (c == null) throw new TtrpcException(Code.NOT_FOUND, "container " + id + " not found");
        return c;
    }

    ShimProcess process(String id, String execId) throws TtrpcException {
        ShimContainer c = container(id);
        if (execId.isEmpty()) return c.init;
        ShimProcess p = c.execs.get(execId);
        if (p == null) throw new TtrpcException(Code.NOT_FOUND, "exec " + execId + " not found in container " + id);
        return p;
    }

    int start(String id, String execId) throws TtrpcException {
        ShimTimeline.mark(id, "start-received");
        ShimContainer c = container(id);
        ShimProcess p = process(id, execId);
        AgentClient agent = agent();
        p.lock.lock();
        try {
            if (p.status != Status.CREATED) {
                throw new TtrpcException(Code.FAILED_PRECONDITION, p.name() + " is " + p.status.name().toLowerCase() + ", not created");
            }
            if (p.isInit()) {
                ShimTimeline.mark(id, "agent-start-sent");
                agent.startContainer(id);
                ShimTimeline.mark(id, "agent-start-done");
                p.status = Status.RUNNING;
                events.publish(Topics.START, TaskStart.newBuilder().setContainerId(id).setPid(p.pid).build());
            } else {
                if (c.init.status == Status.STOPPED) {
                    throw new TtrpcException(Code.FAILED_PRECONDITION, "container " + id + " is not running");
                }
                int pid = agent.execProcess(ExecProcessRequest.newBuilder().setContainerId(id).setExecId(p.agentExecId)
                        .setProcess(ByteString.copyFrom(p.execSpec)).build()).getPid();
                p.pid = pid;
                p.status = Status.RUNNING;
                p.io.start();
                watch(agent, p);
                events.publish(Topics.EXEC_STARTED, TaskExecStarted.newBuilder().setContainerId(id).setExecId(execId)
                        .setPid(pid).build());
            }
            ShimTimeline.mark(id, "start-done");
            return p.pid;
        } catch (RuntimeException e) {
            throw Errors.map(e);
        } finally {
            p.lock.unlock();
        }
    }

    /** Waits for the process's exit on a virtual thread; publishes TaskExit once its output is written. */
    private void watch(AgentClient agent, ShimProcess p) {
        Thread.ofVirtual().name("shim-wait " + p.name()).start(() -> {
            int status;
            try {
                status = agent.waitProcess(p.containerId, p.agentExecId);
            } catch (RuntimeException e) {
                status = VM_GONE_STATUS;
                LOG.warning(p.name() + ": lost the process (" + e.getMessage() + "): reporting exit status " + status);
            }
            try {
                p.io.outputDone().get();
            } catch (Exception e) {
                LOG.fine(p.name() + ": output: " + e.getMessage());
            }
            p.io.close();
            p.lock.lock();
            try {
                p.exitStatus = status;
                p.exitedAt = Instant.now();
                p.status = Status.STOPPED;
                events.publish(Topics.EXIT, TaskExit.newBuilder().setContainerId(p.containerId)
                        .setId(p.isInit() ? p.containerId : p.execId).setPid(p.pid).setExitStatus(status)
                        .setExitedAt(ts(p.exitedAt)).build());
            } finally {
                p.lock.unlock();
            }
            p.exited.complete(null);
            LOG.info(p.name() + " exited with status " + status);
        });
    }

    void exec(dev.kava.api.containerd.task.ExecProcessRequest r) throws TtrpcException {
        ShimContainer c = container(r.getId());
        String execId = r.getExecId();
        if (execId.isEmpty() || !execId.matches("[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")) {
            throw new TtrpcException(Code.INVALID_ARGUMENT, "invalid exec id `" + execId + "`");
        }
        if (c.init.status == Status.STOPPED) {
            throw new TtrpcException(Code.FAILED_PRECONDITION, "container " + c.id + " is not running");
        }
        byte[] spec = r.getSpec().getValue().toByteArray();
        GuestSpec.parse(spec, "exec process spec");
        String agentExecId = execId.equals(c.id) ? "exec-" + execId : execId;
        ProcessIo.Paths paths = new ProcessIo.Paths(r.getStdin(), r.getStdout(), r.getStderr(), r.getTerminal());
        ShimProcess p = new ShimProcess(c.id, execId, agentExecId, paths, spec);
        try {
            p.io = ProcessIo.open(c.id, agentExecId, agent(), paths);
        } catch (IOException e) {
            throw new TtrpcException(Code.INVALID_ARGUMENT, e.getMessage());
        }
        if (c.execs.putIfAbsent(execId, p) != null) {
            throw new TtrpcException(Code.ALREADY_EXISTS, "exec " + execId + " already exists in container " + c.id);
        }
        events.publish(Topics.EXEC_ADDED, TaskExecAdded.newBuilder().setContainerId(c.id).setExecId(execId).build());
    }

    void kill(String id, String execId, int signal, boolean all) throws TtrpcException {
        ShimProcess p = process(id, execId);
        // a Start in flight holds the lock: the kill applies to the process it starts
        p.lock.lock();
        try {
            killLocked(id, p, signal, all);
        } finally {
            p.lock.unlock();
        }
    }

    private void killLocked(String id, ShimProcess p, int signal, boolean all) throws TtrpcException {
        if (p.status == Status.STOPPED && !all) {
            throw new TtrpcException(Code.NOT_FOUND, p.name() + ": process already finished");
        }
        if (!p.isInit() && p.status == Status.CREATED) {
            throw new TtrpcException(Code.NOT_FOUND, p.name() + ": process not started");
        }
        try {
            agent().signalProcess(id, p.isInit() ? "" : p.agentExecId, signal, all);
        } catch (AgentClient.AgentException e) {
            if (e.code() == Code.NOT_FOUND || p.status == Status.STOPPED) {
                throw new TtrpcException(Code.NOT_FOUND, p.name() + ": process already finished");
            }
            throw Errors.map(e);
        } catch (RuntimeException e) {
            throw Errors.map(e);
        }
    }

    /** Delete: the process must have exited (or never started); returns it with its exit. */
    ShimProcess delete(String id, String execId) throws TtrpcException {
        ShimContainer c = container(id);
        ShimProcess p = process(id, execId);
        if (p.status == Status.RUNNING || p.status == Status.PAUSED) {
            throw new TtrpcException(Code.FAILED_PRECONDITION, p.name() + " is still running: kill it first");
        }
        if (!p.isInit()) {
            c.execs.remove(execId);
            if (p.status == Status.CREATED) {
                p.io.close();
                p.exitedAt = Instant.now();
            }
            events.publish(Topics.DELETE, TaskDelete.newBuilder().setContainerId(id).setId(execId).setPid(p.pid)
                    .setExitStatus(p.exitStatus).setExitedAt(ts(p.exitedAt)).build());
            return p;
        }
        removeContainer(c);
        if (p.exitedAt == null) p.exitedAt = Instant.now();
        events.publish(Topics.DELETE, TaskDelete.newBuilder().setContainerId(id).setId(id).setPid(p.pid)
                .setExitStatus(p.exitStatus).setExitedAt(ts(p.exitedAt)).build());
        LOG.info("deleted " + id);
        return p;
    }

    private void removeContainer(ShimContainer c) {
        AgentClient agent = runningSandbox() != null ? runningSandbox().agent() : null;
        if (agent != null && agent.isOpen()) {
            try {
                agent.removeContainer(c.id, 0);
            } catch (RuntimeException e) {
                LOG.fine("agent remove " + c.id + ": " + e.getMessage());
            }
        }
        if (c.init.status == Status.CREATED) {
            // never started: the watcher sees the kill; give it a moment so the exit is recorded
            try {
                c.init.exited.get(2, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.fine(c.id + ": no exit after remove: " + e.getMessage());
            }
        }
        for (ShimProcess e : c.execs.values()) e.io.close();
        c.init.io.close();
        c.mounts.close();
        containers.remove(c.id);
    }

    void pause(String id) throws TtrpcException {
        ShimProcess p = container(id).init;
        try {
            agent().pauseContainer(id);
        } catch (RuntimeException e) {
            throw Errors.map(e);
        }
        p.status = Status.PAUSED;
        events.publish(Topics.PAUSED, TaskPaused.newBuilder().setContainerId(id).build());
    }

    void resume(String id) throws TtrpcException {
        ShimProcess p = container(id).init;
        try {
            agent().resumeContainer(id);
        } catch (RuntimeException e) {
            throw Errors.map(e);
        }
        if (p.status == Status.PAUSED) p.status = Status.RUNNING;
        events.publish(Topics.RESUMED, TaskResumed.newBuilder().setContainerId(id).build());
    }

    AgentClient agent() throws TtrpcException {
        VirtSandbox s = runningSandbox();
        if (s == null || s.agent() == null) throw new TtrpcException(Code.FAILED_PRECONDITION, "the pod's VM is not running");
        return s.agent();
    }

    private void watchOom(AgentClient agent) {
        while (agent.isOpen()) {
            try {
                String id = agent.nextOomEvent();
                if (!id.isEmpty()) {
                    LOG.info(id + ": OOM kill in the guest");
                    events.publish(Topics.OOM, TaskOOM.newBuilder().setContainerId(id).build());
                }
            } catch (RuntimeException e) {
                if (agent.isOpen()) {
                    LOG.log(Level.FINE, "OOM events: " + e.getMessage());
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
        }
    }

    // --- shutdown ------------------------------------------------------------------------------------

    /** Shutdown: ends the shim once no container is left (or at once with {@code now}). */
    boolean shutdown(boolean now) {
        if (!now && !containers.isEmpty()) {
            LOG.fine("shutdown requested with " + containers.size() + " container(s) left: staying");
            return false;
        }
        Thread.ofVirtual().name("shim-exit").start(() -> {
            try {
                Thread.sleep(20);   // let the answer reach containerd first
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            onExit.run();
        });
        return true;
    }

    /** Removes every container and the VM; idempotent. */
    public void close() {
        List<ShimContainer> left;
        synchronized (this) {
            if (closed) return;
            closed = true;
            left = new ArrayList<>(containers.values());
        }
        for (ShimContainer c : left) {
            try {
                removeContainer(c);
            } catch (RuntimeException e) {
                LOG.warning("removing " + c.id + ": " + e.getMessage());
            }
        }
        synchronized (this) {
            stopSandbox();
        }
    }

    private void stopSandbox() {
        if (management != null) {
            management.close();
            management = null;
        }
        if (sandbox != null) {
            sandbox.close();
            sandbox = null;
        }
    }

    static Timestamp ts(Instant t) {
        if (t == null) return Timestamp.getDefaultInstance();
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }
}
