package dev.kava.runtime.agent;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.kava.api.agent.*;
import dev.kava.ttrpc.ByteStream;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcClient;
import dev.kava.ttrpc.TtrpcException;
import java.time.Duration;
import java.util.Objects;

/**
 * The host's side of the agent API: typed calls over one ttrpc connection to the guest agent. Calls
 * may run concurrently (ttrpc multiplexes them); the blocking ones (wait, read) have no deadline.
 */
public final class AgentClient implements AutoCloseable {
    public static final String SERVICE = "kava.agent.AgentService";
    public static final String HEALTH = "kava.agent.Health";

    private final TtrpcClient client;
    private final Duration requestTimeout;

    public AgentClient(ByteStream stream, Duration requestTimeout) {
        this.client = new TtrpcClient(stream);
        this.requestTimeout = Objects.requireNonNull(requestTimeout);
    }

    /** Health.Check with a deadline: answers once the agent serves. */
    public HealthCheckResponse check(Duration timeout) throws AgentException {
        return call(HEALTH, "Check", CheckRequest.getDefaultInstance(), HealthCheckResponse.parser(), timeout);
    }

    public VersionCheckResponse version() throws AgentException {
        return call(HEALTH, "Version", CheckRequest.getDefaultInstance(), VersionCheckResponse.parser(), requestTimeout);
    }

    public void createSandbox(CreateSandboxRequest r) throws AgentException {
        call(SERVICE, "CreateSandbox", r, Empty.parser(), requestTimeout);
    }

    public void destroySandbox() throws AgentException {
        call(SERVICE, "DestroySandbox", DestroySandboxRequest.getDefaultInstance(), Empty.parser(), requestTimeout);
    }

    public CreateContainerResponse createContainer(CreateContainerRequest r) throws AgentException {
        return call(SERVICE, "CreateContainer", r, CreateContainerResponse.parser(), requestTimeout);
    }

    public void startContainer(String id) throws AgentException {
        call(SERVICE, "StartContainer", StartContainerRequest.newBuilder().setContainerId(id).build(), Empty.parser(), requestTimeout);
    }

    public void removeContainer(String id, int timeoutSeconds) throws AgentException {
        call(SERVICE, "RemoveContainer", RemoveContainerRequest.newBuilder().setContainerId(id).setTimeout(timeoutSeconds).build(),
                Empty.parser(), requestTimeout.plusSeconds(timeoutSeconds));
    }

    public ExecProcessResponse execProcess(ExecProcessRequest r) throws AgentException {
        return call(SERVICE, "ExecProcess", r, ExecProcessResponse.parser(), requestTimeout);
    }

    public void signalProcess(String id, String execId, int signal, boolean all) throws AgentException {
        call(SERVICE, "SignalProcess", SignalProcessRequest.newBuilder().setContainerId(id).setExecId(execId)
                .setSignal(signal).setAll(all).build(), Empty.parser(), requestTimeout);
    }

    /** Blocks until the process exits; the exit code, or 128 + the signal that killed it. */
    public int waitProcess(String id, String execId) throws AgentException {
        return call(SERVICE, "WaitProcess", WaitProcessRequest.newBuilder().setContainerId(id).setExecId(execId).build(),
                WaitProcessResponse.parser(), null).getStatus();
    }

    public int writeStdin(String id, String execId, com.google.protobuf.ByteString data) throws AgentException {
        return call(SERVICE, "WriteStdin", WriteStreamRequest.newBuilder().setContainerId(id).setExecId(execId).setData(data).build(),
                WriteStreamResponse.parser(), null).getLen();
    }

    public void closeStdin(String id, String execId) throws AgentException {
        call(SERVICE, "CloseStdin", CloseStdinRequest.newBuilder().setContainerId(id).setExecId(execId).build(), Empty.parser(), requestTimeout);
    }

    /** Blocks until data is there; an empty result means end of stream. */
    public com.google.protobuf.ByteString readStdout(String id, String execId, int max) throws AgentException {
        return read("ReadStdout", id, execId, max);
    }

    public com.google.protobuf.ByteString readStderr(String id, String execId, int max) throws AgentException {
        return read("ReadStderr", id, execId, max);
    }

    private com.google.protobuf.ByteString read(String method, String id, String execId, int max) throws AgentException {
        return call(SERVICE, method, ReadStreamRequest.newBuilder().setContainerId(id).setExecId(execId).setLen(max).build(),
                ReadStreamResponse.parser(), null).getData();
    }

    public void ttyWinResize(String id, String execId, int rows, int cols) throws AgentException {
        call(SERVICE, "TtyWinResize", TtyWinResizeRequest.newBuilder().setContainerId(id).setExecId(execId)
                .setRow(rows).setColumn(cols).build(), Empty.parser(), requestTimeout);
    }

    public StatsContainerResponse statsContainer(String id) throws AgentException {
        return call(SERVICE, "StatsContainer", StatsContainerRequest.newBuilder().setContainerId(id).build(),
                StatsContainerResponse.parser(), requestTimeout);
    }

    public void pauseContainer(String id) throws AgentException {
        call(SERVICE, "PauseContainer", PauseContainerRequest.newBuilder().setContainerId(id).build(), Empty.parser(), requestTimeout);
    }

    public void resumeContainer(String id) throws AgentException {
        call(SERVICE, "ResumeContainer", ResumeContainerRequest.newBuilder().setContainerId(id).build(), Empty.parser(), requestTimeout);
    }

    /** Applies OCI LinuxResources (as JSON) to a running container. */
    public void updateContainer(String id, com.google.protobuf.ByteString resourcesJson) throws AgentException {
        call(SERVICE, "UpdateContainer", UpdateContainerRequest.newBuilder().setContainerId(id).setResources(resourcesJson).build(),
                Empty.parser(), requestTimeout);
    }

    public ListProcessesResponse listProcesses(String id) throws AgentException {
        return call(SERVICE, "ListProcesses", ListProcessesRequest.newBuilder().setContainerId(id).setFormat("json").build(),
                ListProcessesResponse.parser(), requestTimeout);
    }

    /** Blocks until a container of the sandbox is killed by the OOM killer; its id. */
    public String nextOomEvent() throws AgentException {
        return call(SERVICE, "GetOOMEvent", GetOOMEventRequest.getDefaultInstance(), OOMEvent.parser(), null).getContainerId();
    }

    public GuestDetailsResponse guestDetails() throws AgentException {
        return call(SERVICE, "GetGuestDetails", GuestDetailsRequest.getDefaultInstance(), GuestDetailsResponse.parser(), requestTimeout);
    }

    public void setGuestDateTime(long sec, long usec) throws AgentException {
        call(SERVICE, "SetGuestDateTime", SetGuestDateTimeRequest.newBuilder().setSec(sec).setUsec(usec).build(),
                Empty.parser(), requestTimeout);
    }

    public boolean isOpen() {
        return client.isOpen();
    }

    @Override
    public void close() {
        client.close();
    }

    private <R extends MessageLite> R call(String service, String method, MessageLite request, Parser<R> parser, Duration timeout)
            throws AgentException {
        try {
            return client.call(service, method, request, parser, timeout);
        } catch (TtrpcException e) {
            throw new AgentException(method, e.code(), e.getMessage());
        }
    }

    /** A failed agent call: the RPC, the ttrpc status code, and the agent's message. */
    public static final class AgentException extends dev.kava.runtime.KavaException {
        private final Code code;

        public AgentException(String method, Code code, String message) {
            super(message);
            this.code = code;
        }

        public Code code() {
            return code;
        }
    }
}
