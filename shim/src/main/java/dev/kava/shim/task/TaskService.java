package dev.kava.shim.task;

import com.google.protobuf.Empty;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.kava.api.containerd.task.*;
import dev.kava.api.containerd.types.task.ProcessInfo;
import dev.kava.ttrpc.CallContext;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcException;
import dev.kava.ttrpc.TtrpcServer;
import dev.kava.ttrpc.UnaryHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

/** containerd's {@code containerd.task.v2.Task} service, every RPC, on top of a {@link Pod}. */
public final class TaskService {
    public static final String SERVICE = "containerd.task.v2.Task";
    private static final Logger LOG = Logger.getLogger(TaskService.class.getName());
    static final String VERSION = "kava-shim 0.1.0";

    private final Pod pod;

    public TaskService(Pod pod) {
        this.pod = pod;
    }

    public void register(TtrpcServer server) {
        rpc(server, "State", StateRequest.parser(), (StateRequest r, CallContext c) -> state(r));
        rpc(server, "Create", CreateTaskRequest.parser(), (CreateTaskRequest r, CallContext c) ->
                CreateTaskResponse.newBuilder().setPid(pod.create(r)).build());
        rpc(server, "Start", StartRequest.parser(), (StartRequest r, CallContext c) ->
                StartResponse.newBuilder().setPid(pod.start(r.getId(), r.getExecId())).build());
        rpc(server, "Delete", DeleteRequest.parser(), (DeleteRequest r, CallContext c) -> {
            ShimProcess p = pod.delete(r.getId(), r.getExecId());
            return DeleteResponse.newBuilder().setPid(p.pid).setExitStatus(p.exitStatus).setExitedAt(Pod.ts(p.exitedAt)).build();
        });
        rpc(server, "Pids", PidsRequest.parser(), (PidsRequest r, CallContext c) -> {
            pod.container(r.getId());
            PidsResponse.Builder b = PidsResponse.newBuilder();
            try {
                for (int pid : pod.agent().listProcesses(r.getId()).getPidsList()) {
                    b.addProcesses(ProcessInfo.newBuilder().setPid(pid));
                }
            } catch (RuntimeException e) {
                throw Errors.map(e);
            }
            return b.build();
        });
        rpc(server, "Pause", PauseRequest.parser(), (PauseRequest r, CallContext c) -> {
            pod.pause(r.getId());
            return Empty.getDefaultInstance();
        });
        rpc(server, "Resume", ResumeRequest.parser(), (ResumeRequest r, CallContext c) -> {
            pod.resume(r.getId());
            return Empty.getDefaultInstance();
        });
        rpc(server, "Checkpoint", CheckpointTaskRequest.parser(), (CheckpointTaskRequest r, CallContext c) -> {
            throw new TtrpcException(Code.UNIMPLEMENTED, "checkpoint is not supported by kava: a container's state lives in its VM");
        });
        rpc(server, "Kill", KillRequest.parser(), (KillRequest r, CallContext c) -> {
            pod.kill(r.getId(), r.getExecId(), r.getSignal(), r.getAll());
            return Empty.getDefaultInstance();
        });
        rpc(server, "Exec", ExecProcessRequest.parser(), (ExecProcessRequest r, CallContext c) -> {
            pod.exec(r);
            return Empty.getDefaultInstance();
        });
        rpc(server, "ResizePty", ResizePtyRequest.parser(), (ResizePtyRequest r, CallContext c) -> {
            ShimProcess p = pod.process(r.getId(), r.getExecId());
            try {
                pod.agent().ttyWinResize(r.getId(), p.agentExecId, r.getHeight(), r.getWidth());
            } catch (RuntimeException e) {
                throw Errors.map(e);
            }
            return Empty.getDefaultInstance();
        });
        rpc(server, "CloseIO", CloseIORequest.parser(), (CloseIORequest r, CallContext c) -> {
            ShimProcess p = pod.process(r.getId(), r.getExecId());
            if (r.getStdin() && p.io != null) p.io.closeStdin();
            return Empty.getDefaultInstance();
        });
        rpc(server, "Update", UpdateTaskRequest.parser(), (UpdateTaskRequest r, CallContext c) -> {
            pod.container(r.getId());
            try {
                pod.agent().updateContainer(r.getId(), r.getResources().getValue());
            } catch (RuntimeException e) {
                throw Errors.map(e);
            }
            return Empty.getDefaultInstance();
        });
        rpc(server, "Wait", WaitRequest.parser(), (WaitRequest r, CallContext c) -> {
            ShimProcess p = pod.process(r.getId(), r.getExecId());
            p.exited.get();
            return WaitResponse.newBuilder().setExitStatus(p.exitStatus).setExitedAt(Pod.ts(p.exitedAt)).build();
        });
        rpc(server, "Stats", StatsRequest.parser(), (StatsRequest r, CallContext c) -> {
            pod.container(r.getId());
            try {
                return StatsResponse.newBuilder().setStats(Stats.toAny(pod.agent().statsContainer(r.getId()).getCgroupStats())).build();
            } catch (RuntimeException e) {
                throw Errors.map(e);
            }
        });
        rpc(server, "Connect", ConnectRequest.parser(), (ConnectRequest r, CallContext c) -> {
            ConnectResponse.Builder b = ConnectResponse.newBuilder().setShimPid((int) ProcessHandle.current().pid()).setVersion(VERSION);
            try {
                b.setTaskPid(pod.container(r.getId()).init.pid);
            } catch (TtrpcException e) {
                // Connect may precede Create
            }
            return b.build();
        });
        rpc(server, "Shutdown", ShutdownRequest.parser(), (ShutdownRequest r, CallContext c) -> {
            pod.shutdown(r.getNow());
            return Empty.getDefaultInstance();
        });
    }

    private StateResponse state(StateRequest r) throws TtrpcException {
        ShimContainer c = pod.container(r.getId());
        ShimProcess p = pod.process(r.getId(), r.getExecId());
        StateResponse.Builder b = StateResponse.newBuilder().setId(r.getId()).setExecId(r.getExecId())
                .setBundle(c.bundle.toString()).setPid(p.pid).setStatus(p.status)
                .setStdin(p.paths.stdin()).setStdout(p.paths.stdout()).setStderr(p.paths.stderr())
                .setTerminal(p.paths.terminal()).setExitStatus(p.exitStatus);
        if (p.exitedAt != null) b.setExitedAt(Pod.ts(p.exitedAt));
        return b.build();
    }

    private <Q extends MessageLite, R extends MessageLite> void rpc(TtrpcServer server, String method, Parser<Q> parser,
            UnaryHandler<Q, R> handler) {
        server.register(SERVICE, method, parser, (Q request, CallContext ctx) -> {
            try {
                R r = handler.handle(request, ctx);
                LOG.fine(method + " ok");
                return r;
            } catch (TtrpcException e) {
                LOG.log(e.code() == Code.NOT_FOUND ? Level.FINE : Level.INFO, method + ": " + e.getMessage());
                throw e;
            } catch (Exception e) {
                LOG.log(Level.WARNING, method + " failed: " + e, e);
                throw Errors.map(e);
            }
        });
    }
}
