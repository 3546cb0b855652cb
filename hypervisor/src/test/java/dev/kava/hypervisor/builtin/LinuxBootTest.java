package dev.kava.hypervisor.builtin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.protobuf.ByteString;
import dev.kava.api.agent.CheckRequest;
import dev.kava.api.agent.CreateContainerRequest;
import dev.kava.api.agent.CreateContainerResponse;
import dev.kava.api.agent.CreateSandboxRequest;
import dev.kava.api.agent.DestroySandboxRequest;
import dev.kava.api.agent.Empty;
import dev.kava.api.agent.HealthCheckResponse;
import dev.kava.api.agent.ReadStreamRequest;
import dev.kava.api.agent.ReadStreamResponse;
import dev.kava.api.agent.StartContainerRequest;
import dev.kava.api.agent.Storage;
import dev.kava.api.agent.WaitProcessRequest;
import dev.kava.api.agent.WaitProcessResponse;
import dev.kava.hypervisor.AgentEndpoint;
import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.VmConfig;
import dev.kava.ttrpc.ByteStreams;
import dev.kava.ttrpc.TtrpcClient;
import dev.kava.vmm.kvm.KvmSupport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole builtin path with a real Linux guest: the guest kernel and image that
 * {@code ./kava prepare} builds boot under the in-process VMM, the agent answers over hybrid vsock
 * ({@code CONNECT 1024}), and a container runs and prints. Needs hardware virtualization
 * ({@code vmx}/{@code svm}, not PVM): elsewhere it skips and says why.
 */
class LinuxBootTest {
    private static final Path KERNEL = Path.of("/var/cache/kava/current/bzImage");
    private static final Path IMAGE = Path.of("/var/cache/kava/current/kava-guest.img");
    private static final String SERVICE = "kava.agent.AgentService";
    private static final Duration CALL = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void aContainerRunsInALinuxGuestOfTheBuiltinVmm() throws Exception {
        String why = KvmSupport.detect().noLinuxReason();
        if (why == null && !(Files.isReadable(KERNEL) && Files.isReadable(IMAGE))) {
            why = "no guest kernel and image under /var/cache/kava/current (./kava prepare builds them)";
        }
        if (why != null) {
            System.out.println("SKIP LinuxBootTest: " + why);
        }
        Assumptions.assumeTrue(why == null, why);

        Path console = dir.resolve("console.log");
        try (Hypervisor vm = new BuiltinProvider().create("lbt", dir.resolve("state"))) {
            vm.prepare(new VmConfig(2, 512, KERNEL, IMAGE, List.of(), console, true));
            long t0 = System.nanoTime();
            vm.start(Duration.ofSeconds(60));
            AgentEndpoint.HybridVsock ep = (AgentEndpoint.HybridVsock) vm.agentEndpoint();
            try (TtrpcClient agent = new TtrpcClient(ByteStreams.of(connect(ep, Duration.ofSeconds(60), console)))) {
                HealthCheckResponse health = agent.call("kava.agent.Health", "Check", CheckRequest.getDefaultInstance(),
                        HealthCheckResponse.parser(), CALL);
                System.out.printf("agent answered %d ms after start: %s%n", (System.nanoTime() - t0) / 1_000_000, health);
                String root = "/run/kava/shared/c1/rootfs";
                agent.call(SERVICE, "CreateSandbox", CreateSandboxRequest.newBuilder().setSandboxId("lbt").setHostname("lbt")
                        // no shared file system under the builtin VMM yet: the container's root is
                        // the guest image itself, bound read-only (it has /bin/busybox)
                        .addStorages(Storage.newBuilder().setDriver("bind").setSource("/").addOptions("ro").setMountPoint(root))
                        .build(), Empty.parser(), CALL);
                CreateContainerResponse created = agent.call(SERVICE, "CreateContainer", CreateContainerRequest.newBuilder()
                        .setContainerId("c1").setExecId("c1")
                        .setOciSpec(ByteString.copyFrom(spec("c1/rootfs", "hello-from-the-builtin-vmm"))).build(),
                        CreateContainerResponse.parser(), CALL);
                assertTrue(created.getPid() > 0);
                agent.call(SERVICE, "StartContainer", StartContainerRequest.newBuilder().setContainerId("c1").build(),
                        Empty.parser(), CALL);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                while (true) {
                    ReadStreamResponse r = agent.call(SERVICE, "ReadStdout", ReadStreamRequest.newBuilder().setContainerId("c1")
                            .setExecId("c1").setLen(4096).build(), ReadStreamResponse.parser(), CALL);
                    if (r.getData().isEmpty()) {
                        break;
                    }
                    r.getData().writeTo(out);
                }
                WaitProcessResponse exit = agent.call(SERVICE, "WaitProcess", WaitProcessRequest.newBuilder().setContainerId("c1")
                        .setExecId("c1").build(), WaitProcessResponse.parser(), CALL);
                assertEquals(0, exit.getStatus());
                assertEquals("hello-from-the-builtin-vmm\n", out.toString(StandardCharsets.UTF_8));
                try {
                    agent.call(SERVICE, "DestroySandbox", DestroySandboxRequest.getDefaultInstance(), Empty.parser(), CALL);
                } catch (Exception rebooting) {
                    // the agent reboots the guest: the connection may close before the answer
                }
            }
            assertEquals(0, vm.exited().get(60, TimeUnit.SECONDS), "the guest rebooted: the VM ended cleanly");
        }
    }

    /** Hybrid vsock: CONNECT until the agent listens (a guest RST closes the socket: try again). */
    private static SocketChannel connect(AgentEndpoint.HybridVsock ep, Duration timeout, Path console) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(ep.socket()));
                ch.write(ByteBuffer.wrap(("CONNECT " + ep.port() + "\n").getBytes(StandardCharsets.US_ASCII)));
                StringBuilder line = new StringBuilder();
                ByteBuffer one = ByteBuffer.allocate(1);
                while (true) {
                    one.clear();
                    if (ch.read(one) < 0) {
                        throw new IOException("closed before OK (the agent is not listening yet)");
                    }
                    char c = (char) one.get(0);
                    if (c == '\n') {
                        break;
                    }
                    line.append(c);
                }
                assertTrue(line.toString().matches("OK [0-9]+"), line.toString());
                return ch;
            } catch (IOException e) {
                last = e;
                ch.close();
                Thread.sleep(100);
            }
        }
        String log = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
        throw new AssertionError("the agent did not answer on vsock port " + ep.port() + ": " + last + "\n" + log);
    }

    /** A minimal OCI spec running {@code /bin/busybox echo <word>} with its root at {@code rootPath}. */
    private static byte[] spec(String rootPath, String word) {
        JsonObject spec = new JsonObject();
        spec.addProperty("ociVersion", "1.0.2");
        JsonObject process = new JsonObject();
        process.addProperty("terminal", false);
        JsonObject user = new JsonObject();
        user.addProperty("uid", 0);
        user.addProperty("gid", 0);
        process.add("user", user);
        process.add("args", strings("/bin/busybox", "echo", word));
        process.add("env", strings("PATH=/usr/sbin:/usr/bin:/sbin:/bin"));
        process.addProperty("cwd", "/");
        spec.add("process", process);
        JsonObject root = new JsonObject();
        root.addProperty("path", rootPath);
        root.addProperty("readonly", true);
        spec.add("root", root);
        spec.addProperty("hostname", "c1");
        JsonArray mounts = new JsonArray();
        mounts.add(mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"));
        mounts.add(mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"));
        mounts.add(mount("/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777"));
        spec.add("mounts", mounts);
        JsonObject linux = new JsonObject();
        JsonArray ns = new JsonArray();
        for (String t : List.of("pid", "ipc", "uts", "mount")) {
            JsonObject n = new JsonObject();
            n.addProperty("type", t);
            ns.add(n);
        }
        linux.add("namespaces", ns);
        linux.addProperty("cgroupsPath", "/kava/c1");
        spec.add("linux", linux);
        return spec.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static JsonObject mount(String dest, String type, String source, String... options) {
        JsonObject m = new JsonObject();
        m.addProperty("destination", dest);
        m.addProperty("type", type);
        m.addProperty("source", source);
        m.add("options", strings(options));
        return m;
    }

    private static JsonArray strings(String... values) {
        JsonArray a = new JsonArray();
        for (String v : values) {
            a.add(v);
        }
        return a;
    }
}
