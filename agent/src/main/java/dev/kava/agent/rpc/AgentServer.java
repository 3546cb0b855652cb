package dev.kava.agent.rpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.kava.agent.AgentConfig;
import dev.kava.agent.AgentErrors;
import dev.kava.agent.container.ContainerMonitor;
import dev.kava.agent.container.ContainerService;
import dev.kava.agent.container.ProcessStreams;
import dev.kava.agent.guest.GuestService;
import dev.kava.agent.guest.SandboxService;
import dev.kava.agent.process.ChildProcesses;
import dev.kava.api.agent.CheckRequest;
import dev.kava.api.agent.CloseStdinRequest;
import dev.kava.api.agent.CopyFileRequest;
import dev.kava.api.agent.CreateContainerRequest;
import dev.kava.api.agent.CreateContainerResponse;
import dev.kava.api.agent.CreateSandboxRequest;
import dev.kava.api.agent.DestroySandboxRequest;
import dev.kava.api.agent.Empty;
import dev.kava.api.agent.ExecProcessRequest;
import dev.kava.api.agent.ExecProcessResponse;
import dev.kava.api.agent.GetOOMEventRequest;
import dev.kava.api.agent.GuestDetailsRequest;
import dev.kava.api.agent.HealthCheckResponse;
import dev.kava.api.agent.ListProcessesRequest;
import dev.kava.api.agent.OOMEvent;
import dev.kava.api.agent.PauseContainerRequest;
import dev.kava.api.agent.ReadStreamRequest;
import dev.kava.api.agent.ReadStreamResponse;
import dev.kava.api.agent.RemoveContainerRequest;
import dev.kava.api.agent.ResumeContainerRequest;
import dev.kava.api.agent.SetGuestDateTimeRequest;
import dev.kava.api.agent.SignalProcessRequest;
import dev.kava.api.agent.StartContainerRequest;
import dev.kava.api.agent.StatsContainerRequest;
import dev.kava.api.agent.TtyWinResizeRequest;
import dev.kava.api.agent.UpdateContainerRequest;
import dev.kava.api.agent.VersionCheckResponse;
import dev.kava.api.agent.WaitProcessRequest;
import dev.kava.api.agent.WaitProcessResponse;
import dev.kava.api.agent.WriteStreamRequest;
import dev.kava.api.agent.WriteStreamResponse;
import dev.kava.linux.LinuxException;
import dev.kava.ttrpc.CallContext;
import dev.kava.ttrpc.TtrpcException;
import dev.kava.ttrpc.TtrpcServer;
import dev.kava.ttrpc.UnaryHandler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Wires the agent's services to a {@link TtrpcServer}: every RPC of agent.proto. */
public final class AgentServer {
    public static final String AGENT_SERVICE = "kava.agent.AgentService";
    public static final String HEALTH_SERVICE = "kava.agent.Health";
    private static final Logger LOG = Logger.getLogger("dev.kava.agent.rpc");
    private static final Empty EMPTY = Empty.getDefaultInstance();

    private final TtrpcServer server = new TtrpcServer();
    private final ContainerService containers;
    private final ProcessStreams streams;
    private final ContainerMonitor monitor;
    private final GuestService guest;
    private final SandboxService sandbox;
    private final boolean initDaemon;

    /**
     * @param powerOff   what DestroySandbox does after its reply: reboot the guest, or exit
     * @param initDaemon whether this agent is the guest's PID 1 (it may then change system state)
     */
    public AgentServer(AgentConfig config, ChildProcesses children, Runnable powerOff, boolean initDaemon) {
        this.containers = new ContainerService(config, children);
        this.streams = new ProcessStreams(containers);
        this.monitor = new ContainerMonitor(containers);
        this.guest = new GuestService(config.stateDir());
        this.sandbox = new SandboxService(containers, powerOff, initDaemon);
        this.initDaemon = initDaemon;
        registerHealth();
        registerSandbox();
        registerContainers();
        registerProcesses();
        registerStreams();
        registerGuest();
    }

    /** The ttrpc server with every method registered. */
    public TtrpcServer ttrpc() {
        return server;
    }

    private <Q extends MessageLite, R extends MessageLite> void agent(String method, Parser<Q> parser,
            UnaryHandler<Q, R> handler) {
        server.register(AGENT_SERVICE, method, parser, guarded(method, handler));
    }

    /**
     * Statuses for everything a handler can throw: TtrpcException as it is, JVM and Linux errors
     * as INTERNAL with their message. Nothing a host sends escapes as an unexpected exception.
     */
    static <Q extends MessageLite, R extends MessageLite> UnaryHandler<Q, R> guarded(String method, UnaryHandler<Q, R> h) {
        return (req, ctx) -> {
            try {
                return h.handle(req, ctx);
            } catch (TtrpcException | InterruptedException e) {
                throw e;
            } catch (LinuxException | IOException | UncheckedIOException e) {
                LOG.log(Level.WARNING, method + ": " + e.getMessage());
                throw AgentErrors.internal(method + ": " + e.getMessage(), e);
            } catch (Exception e) {
                LOG.log(Level.WARNING, method + " failed", e);
                throw AgentErrors.internal(method + ": " + e, e);
            } catch (OutOfMemoryError | StackOverflowError e) {
                throw AgentErrors.internal(method + ": " + e);
            }
        };
    }

    private void registerHealth() {
        server.register(HEALTH_SERVICE, "Check", CheckRequest.parser(), (CheckRequest req, CallContext ctx) ->
                HealthCheckResponse.newBuilder().setStatus(HealthCheckResponse.ServingStatus.SERVING).build());
        server.register(HEALTH_SERVICE, "Version", CheckRequest.parser(), (CheckRequest req, CallContext ctx) ->
                VersionCheckResponse.newBuilder().setAgentVersion(GuestService.VERSION)
                        .setGrpcVersion("ttrpc").build());
    }

    private void registerSandbox() {
        agent("CreateSandbox", CreateSandboxRequest.parser(), (CreateSandboxRequest req, CallContext ctx) -> {
            sandbox.create(req);
            return EMPTY;
        });
        agent("DestroySandbox", DestroySandboxRequest.parser(), (DestroySandboxRequest req, CallContext ctx) -> {
            sandbox.destroy();
            return EMPTY;
        });
    }

    private void registerContainers() {
        agent("CreateContainer", CreateContainerRequest.parser(), (CreateContainerRequest req, CallContext ctx) ->
                CreateContainerResponse.newBuilder().setPid(containers.create(req)).build());
        agent("StartContainer", StartContainerRequest.parser(), (StartContainerRequest req, CallContext ctx) -> {
            containers.start(req.getContainerId());
            return EMPTY;
        });
        agent("RemoveContainer", RemoveContainerRequest.parser(), (RemoveContainerRequest req, CallContext ctx) -> {
            containers.remove(req, ctx);
            return EMPTY;
        });
        agent("PauseContainer", PauseContainerRequest.parser(), (PauseContainerRequest req, CallContext ctx) -> {
            containers.pause(req.getContainerId(), true);
            return EMPTY;
        });
        agent("ResumeContainer", ResumeContainerRequest.parser(), (ResumeContainerRequest req, CallContext ctx) -> {
            containers.pause(req.getContainerId(), false);
            return EMPTY;
        });
        agent("UpdateContainer", UpdateContainerRequest.parser(), (UpdateContainerRequest req, CallContext ctx) -> {
            containers.update(req.getContainerId(), req.getResources().toByteArray());
            return EMPTY;
        });
        agent("StatsContainer", StatsContainerRequest.parser(), (StatsContainerRequest req, CallContext ctx) ->
                monitor.stats(req.getContainerId()));
    }

    private void registerProcesses() {
        agent("ExecProcess", ExecProcessRequest.parser(), (ExecProcessRequest req, CallContext ctx) ->
                ExecProcessResponse.newBuilder().setPid(containers.exec(req)).build());
        agent("SignalProcess", SignalProcessRequest.parser(), (SignalProcessRequest req, CallContext ctx) -> {
            containers.signal(req);
            return EMPTY;
        });
        agent("WaitProcess", WaitProcessRequest.parser(), (WaitProcessRequest req, CallContext ctx) ->
                WaitProcessResponse.newBuilder()
                        .setStatus(containers.await(req.getContainerId(), req.getExecId(), ctx)).build());
        agent("ListProcesses", ListProcessesRequest.parser(), (ListProcessesRequest req, CallContext ctx) ->
                monitor.list(req.getContainerId(), req.getFormat()));
    }

    private void registerStreams() {
        agent("WriteStdin", WriteStreamRequest.parser(), (WriteStreamRequest req, CallContext ctx) ->
                WriteStreamResponse.newBuilder().setLen(streams.writeStdin(req.getContainerId(),
                        req.getExecId(), req.getData().toByteArray(), ctx)).build());
        agent("CloseStdin", CloseStdinRequest.parser(), (CloseStdinRequest req, CallContext ctx) -> {
            streams.closeStdin(req.getContainerId(), req.getExecId());
            return EMPTY;
        });
        agent("ReadStdout", ReadStreamRequest.parser(), (ReadStreamRequest req, CallContext ctx) ->
                ReadStreamResponse.newBuilder().setData(ByteString.copyFrom(streams.read(req.getContainerId(),
                        req.getExecId(), false, req.getLen(), ctx))).build());
        agent("ReadStderr", ReadStreamRequest.parser(), (ReadStreamRequest req, CallContext ctx) ->
                ReadStreamResponse.newBuilder().setData(ByteString.copyFrom(streams.read(req.getContainerId(),
                        req.getExecId(), true, req.getLen(), ctx))).build());
        agent("TtyWinResize", TtyWinResizeRequest.parser(), (TtyWinResizeRequest req, CallContext ctx) -> {
            streams.resize(req.getContainerId(), req.getExecId(), req.getRow(), req.getColumn());
            return EMPTY;
        });
    }

    private void registerGuest() {
        agent("GetOOMEvent", GetOOMEventRequest.parser(), (GetOOMEventRequest req, CallContext ctx) ->
                OOMEvent.newBuilder().setContainerId(monitor.nextOom(ctx)).build());
        agent("SetGuestDateTime", SetGuestDateTimeRequest.parser(), (SetGuestDateTimeRequest req, CallContext ctx) -> {
            guest.setDateTime(req.getSec(), req.getUsec());
            return EMPTY;
        });
        agent("CopyFile", CopyFileRequest.parser(), (CopyFileRequest req, CallContext ctx) -> {
            guest.copyFile(req);
            return EMPTY;
        });
        agent("GetGuestDetails", GuestDetailsRequest.parser(), (GuestDetailsRequest req, CallContext ctx) ->
                guest.details(req.getMemBlockSize(), initDaemon));
    }
}
