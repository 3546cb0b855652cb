package dev.kava.agent;

import com.google.protobuf.ByteString;
import dev.kava.agent.channel.Channels;
import dev.kava.agent.oci.OciSpec;
import dev.kava.agent.process.ChildProcesses;
import dev.kava.agent.rpc.AgentServer;
import dev.kava.agent.stream.ProcessStdio;
import dev.kava.api.agent.CheckRequest;
import dev.kava.api.agent.CopyFileRequest;
import dev.kava.api.agent.CreateContainerRequest;
import dev.kava.api.agent.Empty;
import dev.kava.api.agent.GuestDetailsRequest;
import dev.kava.api.agent.GuestDetailsResponse;
import dev.kava.api.agent.HealthCheckResponse;
import dev.kava.api.agent.ReadStreamRequest;
import dev.kava.api.agent.ReadStreamResponse;
import dev.kava.api.agent.VersionCheckResponse;
import dev.kava.linux.Pipe;
import dev.kava.ttrpc.ByteStream;
import dev.kava.ttrpc.ByteStreams;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcClient;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * {@code --train}: a representative session in-process, so that a CDS/AOT archive recorded
 * from it at image build time holds the classes of the first RPCs: a ttrpc server on pipes
 * (the same Fd streams as the serial port) with the real handlers, Check, Version,
 * GetGuestDetails, CopyFile, refusals (NOT_FOUND, INVALID_ARGUMENT), an OCI spec parsed and
 * validated, and a child spawned with the pipe stdio plumbing crun gets. crun itself is not run.
 */
final class Training {
    private static final Logger LOG = Logger.getLogger("dev.kava.agent");
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String SPEC = """
            {"ociVersion":"1.0.2","process":{"terminal":false,"user":{"uid":0,"gid":0},
            "args":["sh","-c","echo hello"],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd":"/"},"root":{"path":"c1/rootfs","readonly":false},"hostname":"c1",
            "mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
            "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"}]}}""";

    private Training() {}

    static boolean run() {
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory("kava-train");
            Path shared = Files.createDirectories(tmp.resolve("shared"));
            Files.createDirectories(shared.resolve("c1/rootfs"));
            AgentConfig config = AgentConfig.of(Path.of("/usr/bin/crun"), tmp.resolve("state"), shared);
            Files.createDirectories(config.stateDir());
            session(config);
            LOG.info("training done");
            return true;
        } catch (Exception | LinkageError e) {
            LOG.log(Level.SEVERE, "training failed", e);
            return false;
        } finally {
            if (tmp != null) {
                deleteTree(tmp);
            }
        }
    }

    private static void session(AgentConfig config) throws Exception {
        ChildProcesses children = new ChildProcesses();
        AgentServer server = new AgentServer(config, children, () -> { }, false);
        Pipe up = Pipe.open();
        Pipe down = Pipe.open();
        ByteStream serverSide = ByteStreams.of(up.readEnd().inputStream(), down.writeEnd().outputStream(), () -> {
            down.writeEnd().close();
            up.readEnd().close();
        });
        ByteStream clientSide = ByteStreams.of(down.readEnd().inputStream(), up.writeEnd().outputStream(), () -> {
            up.writeEnd().close();
            down.readEnd().close();
        });
        server.ttrpc().serveInBackground(serverSide, Channels.platform("train-server"));
        try (TtrpcClient client = new TtrpcClient(clientSide, Channels.platform("train-client"))) {
            HealthCheckResponse h = client.call(AgentServer.HEALTH_SERVICE, "Check", CheckRequest.getDefaultInstance(),
                    HealthCheckResponse.parser(), TIMEOUT);
            expect(h.getStatus() == HealthCheckResponse.ServingStatus.SERVING, "Check: " + h.getStatus());
            client.call(AgentServer.HEALTH_SERVICE, "Version", CheckRequest.getDefaultInstance(),
                    VersionCheckResponse.parser(), TIMEOUT);
            GuestDetailsResponse d = client.call(AgentServer.AGENT_SERVICE, "GetGuestDetails",
                    GuestDetailsRequest.newBuilder().setMemBlockSize(true).build(), GuestDetailsResponse.parser(), TIMEOUT);
            expect(d.getAgentDetails().getStorageHandlersCount() > 0, "GetGuestDetails");
            client.call(AgentServer.AGENT_SERVICE, "CopyFile", CopyFileRequest.newBuilder()
                    .setPath(config.stateDir().resolve("train/hello.txt").toString()).setFileSize(5)
                    .setFileMode(0644).setDirMode(0755).setData(ByteString.copyFromUtf8("hello")).build(),
                    Empty.parser(), TIMEOUT);
            expectStatus(client, "ReadStdout", ReadStreamRequest.newBuilder().setContainerId("nope").build(),
                    Code.NOT_FOUND);
            expectStatus(client, "CreateContainer", CreateContainerRequest.newBuilder().setContainerId("c0")
                    .setOciSpec(ByteString.copyFromUtf8("{\"process\":{}}")).build(), Code.INVALID_ARGUMENT);
        }
        OciSpec spec = OciSpec.parse(SPEC.getBytes(StandardCharsets.UTF_8));
        spec.setRootPath(spec.resolveRoot(config.sharedDir()));
        spec.cgroupsPathOrDefault("/kava/c1");
        expect(spec.toJson().length > 0, "spec");
        spawnWithPipes(children);
        children.sweep();
        server.ttrpc().close();
    }

    /** The stdio plumbing crun create gets, with a shell instead of crun. */
    private static void spawnWithPipes(ChildProcesses children) throws Exception {
        Path sh = Path.of("/bin/sh");
        if (!Files.isExecutable(sh)) {
            return;
        }
        try (ProcessStdio stdio = ProcessStdio.pipes("train")) {
            ProcessBuilder pb = new ProcessBuilder(sh.toString(), "-c", "read x; echo out $x; echo err >&2");
            stdio.redirect(pb);
            Process p = children.start(pb);
            stdio.started();
            stdio.stdin().write("in\n".getBytes(StandardCharsets.UTF_8));
            stdio.stdin().close();
            StringBuilder out = new StringBuilder();
            for (byte[] b = stdio.stdout().take(1024); b.length > 0; b = stdio.stdout().take(1024)) {
                out.append(new String(b, StandardCharsets.UTF_8));
            }
            expect(out.toString().equals("out in\n"), "child stdout: " + out);
            expect(p.waitFor() == 0, "child exit");
        }
    }

    private static void expectStatus(TtrpcClient client, String method, com.google.protobuf.MessageLite req, Code code)
            throws TtrpcException {
        try {
            client.call(AgentServer.AGENT_SERVICE, method, req, ReadStreamResponse.parser(), TIMEOUT);
        } catch (TtrpcException e) {
            expect(e.code() == code, method + ": " + e);
            return;
        }
        throw new IllegalStateException(method + " did not fail");
    }

    private static void expect(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("unexpected: " + what);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temp dir: left behind
        }
    }
}
