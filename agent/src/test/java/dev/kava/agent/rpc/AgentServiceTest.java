package dev.kava.agent.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import dev.kava.api.agent.CheckRequest;
import dev.kava.api.agent.CopyFileRequest;
import dev.kava.api.agent.CreateContainerRequest;
import dev.kava.api.agent.DestroySandboxRequest;
import dev.kava.api.agent.Empty;
import dev.kava.api.agent.GuestDetailsRequest;
import dev.kava.api.agent.GuestDetailsResponse;
import dev.kava.api.agent.HealthCheckResponse;
import dev.kava.api.agent.ReadStreamRequest;
import dev.kava.api.agent.RemoveContainerRequest;
import dev.kava.api.agent.SignalProcessRequest;
import dev.kava.api.agent.VersionCheckResponse;
import dev.kava.api.agent.WaitProcessRequest;
import dev.kava.ttrpc.ByteStreams;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcClient;
import dev.kava.ttrpc.TtrpcException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent as a process ({@code AgentMain --listen-unix --no-mounts}) and its API over a real
 * unix socket. No crun runs here: the host's cgroup layout makes crun refuse (see
 * ARCHITECTURE.md); the container path is proven by the VM integration tests.
 */
@Timeout(120)
@TestMethodOrder(MethodOrderer.MethodName.class)
class AgentServiceTest {
    private static final Duration T = Duration.ofSeconds(30);
    private static final String AGENT = AgentServer.AGENT_SERVICE;

    @TempDir
    static Path tmp;
    static Process agent;
    static TtrpcClient client;
    static Path stderr;

    @BeforeAll
    static void startAgent() throws Exception {
        Path sock = tmp.resolve("agent.sock");
        Files.createDirectories(tmp.resolve("shared/c1"));
        stderr = tmp.resolve("agent.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.kava.agent.AgentMain",
                "--listen-unix", sock.toString(), "--no-mounts", "--vsock-port", "0",
                "--state-dir", tmp.resolve("state").toString(), "--shared-dir", tmp.resolve("shared").toString()));
        agent = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(stderr.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(sock)) {
            assertTrue(agent.isAlive(), () -> "agent died: " + log());
            assertTrue(System.nanoTime() < deadline, "agent did not listen");
            Thread.sleep(20);
        }
        while (true) { // the socket file appears at bind, an instant before listen
            try {
                client = new TtrpcClient(ByteStreams.connectUnix(sock));
                break;
            } catch (java.net.ConnectException e) {
                assertTrue(System.nanoTime() < deadline, "agent did not accept");
                Thread.sleep(20);
            }
        }
    }

    static String log() {
        try {
            return Files.readString(stderr);
        } catch (Exception e) {
            return e.toString();
        }
    }

    @AfterAll
    static void stopAgent() throws Exception {
        if (client != null) {
            client.close();
        }
        if (agent != null && agent.isAlive()) {
            agent.destroyForcibly().waitFor();
        }
    }

    private static TtrpcException fails(String method, MessageLite req) {
        return assertThrows(TtrpcException.class, () -> client.call(AGENT, method, req, Empty.parser(), T));
    }

    @Test
    void health_check_answers_serving_and_version_names_the_agent() throws Exception {
        HealthCheckResponse h = client.call(AgentServer.HEALTH_SERVICE, "Check", CheckRequest.getDefaultInstance(),
                HealthCheckResponse.parser(), T);
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, h.getStatus());
        VersionCheckResponse v = client.call(AgentServer.HEALTH_SERVICE, "Version", CheckRequest.getDefaultInstance(),
                VersionCheckResponse.parser(), T);
        assertTrue(!v.getAgentVersion().isEmpty());
    }

    @Test
    void guest_details_report_kernel_memory_and_storage_handlers() throws Exception {
        GuestDetailsResponse d = client.call(AGENT, "GetGuestDetails", GuestDetailsRequest.getDefaultInstance(),
                GuestDetailsResponse.parser(), T);
        assertTrue(d.getMemTotalBytes() > 0);
        assertTrue(d.getMemFreeBytes() > 0 && d.getMemFreeBytes() < d.getMemTotalBytes(), d.toString());
        assertTrue(d.getMemAvailableBytes() >= d.getMemFreeBytes(), d.toString());
        assertEquals(System.getProperty("os.version"), d.getAgentDetails().getKernelRelease());
        assertEquals(List.of("9p", "virtio-fs", "tmpfs", "bind"), d.getAgentDetails().getStorageHandlersList());
    }

    @Test
    void calls_on_an_unknown_container_answer_not_found() {
        assertEquals(Code.NOT_FOUND, fails("WaitProcess", WaitProcessRequest.newBuilder().setContainerId("nope").build()).code());
        assertEquals(Code.NOT_FOUND, fails("ReadStdout", ReadStreamRequest.newBuilder().setContainerId("nope").build()).code());
        assertEquals(Code.NOT_FOUND, fails("SignalProcess", SignalProcessRequest.newBuilder().setContainerId("nope").setSignal(9).build()).code());
        assertEquals(Code.NOT_FOUND, fails("RemoveContainer", RemoveContainerRequest.newBuilder().setContainerId("nope").build()).code());
    }

    @Test
    void a_malformed_or_escaping_spec_is_an_invalid_argument() {
        TtrpcException e = fails("CreateContainer", CreateContainerRequest.newBuilder().setContainerId("c1")
                .setOciSpec(ByteString.copyFromUtf8("{not json")).build());
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        e = fails("CreateContainer", CreateContainerRequest.newBuilder().setContainerId("c1")
                .setOciSpec(ByteString.copyFromUtf8("{\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"../../etc\"}}")).build());
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("root.path"), e.getMessage());
        e = fails("CreateContainer", CreateContainerRequest.newBuilder().setContainerId("../x")
                .setOciSpec(ByteString.copyFromUtf8("{}")).build());
        assertEquals(Code.INVALID_ARGUMENT, e.code());
    }

    @Test
    void copy_file_writes_under_the_state_directory_and_refuses_elsewhere() throws Exception {
        Path target = tmp.resolve("state/files/a/b.txt");
        client.call(AGENT, "CopyFile", CopyFileRequest.newBuilder().setPath(target.toString()).setFileSize(10)
                .setDirMode(0750).setFileMode(0600).setData(ByteString.copyFromUtf8("hello")).build(), Empty.parser(), T);
        client.call(AGENT, "CopyFile", CopyFileRequest.newBuilder().setPath(target.toString()).setFileSize(10)
                .setOffset(5).setFileMode(0600).setData(ByteString.copyFromUtf8("world")).build(), Empty.parser(), T);
        assertEquals("helloworld", Files.readString(target, StandardCharsets.UTF_8));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        assertEquals(Code.PERMISSION_DENIED, fails("CopyFile", CopyFileRequest.newBuilder()
                .setPath("/etc/kava-test").setData(ByteString.copyFromUtf8("x")).build()).code());
        assertEquals(Code.PERMISSION_DENIED, fails("CopyFile", CopyFileRequest.newBuilder()
                .setPath(tmp.resolve("state/../escape").toString()).setData(ByteString.copyFromUtf8("x")).build()).code());
        assertTrue(!Files.exists(Path.of("/etc/kava-test")));
    }

    @Test
    void z_destroy_sandbox_replies_then_ends_the_agent_process() throws Exception {
        client.call(AGENT, "DestroySandbox", DestroySandboxRequest.getDefaultInstance(), Empty.parser(), T);
        assertTrue(agent.waitFor(20, TimeUnit.SECONDS), "agent still running");
        assertEquals(0, agent.exitValue(), log());
    }
}
