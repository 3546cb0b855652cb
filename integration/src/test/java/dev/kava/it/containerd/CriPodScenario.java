package dev.kava.it.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.cli.containerd.LocalImages;
import dev.kava.cli.containerd.PrivateContainerd;
import dev.kava.it.containerd.cri.ContainerConfig;
import dev.kava.it.containerd.cri.ContainerMetadata;
import dev.kava.it.containerd.cri.ContainerState;
import dev.kava.it.containerd.cri.ContainerStats;
import dev.kava.it.containerd.cri.ContainerStatus;
import dev.kava.it.containerd.cri.ExecSyncResponse;
import dev.kava.it.containerd.cri.ImageSpec;
import dev.kava.it.containerd.cri.KeyValue;
import dev.kava.it.containerd.cri.LinuxContainerConfig;
import dev.kava.it.containerd.cri.LinuxContainerSecurityContext;
import dev.kava.it.containerd.cri.LinuxPodSandboxConfig;
import dev.kava.it.containerd.cri.LinuxSandboxSecurityContext;
import dev.kava.it.containerd.cri.NamespaceMode;
import dev.kava.it.containerd.cri.NamespaceOption;
import dev.kava.it.containerd.cri.PodSandboxConfig;
import dev.kava.it.containerd.cri.PodSandboxMetadata;
import dev.kava.it.containerd.cri.PodSandboxState;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * One pod through CRI with a runtime handler ("runc", later "kava"): host network, two busybox containers
 * that log a line and sleep, ExecSync in each, status, stats, stop, remove; then nothing may be left (no
 * shim, no container, no mount). Every step is asserted; the time of each is returned for comparison.
 */
final class CriPodScenario {
    /** Host network, a pid namespace per container, IPC shared in the pod: what kubelet asks for by default. */
    static final NamespaceOption NAMESPACES = NamespaceOption.newBuilder()
            .setNetwork(NamespaceMode.NODE).setPid(NamespaceMode.CONTAINER).setIpc(NamespaceMode.POD).build();

    private CriPodScenario() {}

    /** Milliseconds per step, in order. */
    record Timings(Map<String, Long> steps) {
        @Override
        public String toString() {
            return steps.toString();
        }
    }

    static PodSandboxConfig podConfig(String name, Path logDir) {
        String uid = UUID.randomUUID().toString();
        return PodSandboxConfig.newBuilder()
                .setMetadata(PodSandboxMetadata.newBuilder().setName(name).setUid(uid).setNamespace("kava-it"))
                // no hostname: with the host network the pod shares the host's UTS namespace, and runc refuses
                // to set a hostname there ("unable to set hostname without a private UTS namespace")
                .setLogDirectory(logDir.toString())
                .putLabels("io.kava.test", name)
                .setLinux(LinuxPodSandboxConfig.newBuilder()
                        .setSecurityContext(LinuxSandboxSecurityContext.newBuilder().setNamespaceOptions(NAMESPACES)))
                .build();
    }

    /** A busybox container that prints {@code started NAME} and sleeps until SIGTERM, which it exits 0 on. */
    static ContainerConfig sleeper(String name) {
        return ContainerConfig.newBuilder()
                .setMetadata(ContainerMetadata.newBuilder().setName(name))
                .setImage(ImageSpec.newBuilder().setImage(LocalImages.BUSYBOX))
                .addAllCommand(List.of("sh", "-c", "echo started " + name + "; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"))
                .setLogPath(name + ".log")
                .addEnvs(KeyValue.newBuilder().setKey("CONTAINER_NAME").setValue(name))
                .setLinux(LinuxContainerConfig.newBuilder()
                        .setSecurityContext(LinuxContainerSecurityContext.newBuilder().setNamespaceOptions(NAMESPACES)))
                .build();
    }

    /** Runs the whole pod life cycle with {@code handler}; throws AssertionError at the first step that goes wrong. */
    static Timings twoContainerPod(CriClient cri, PrivateContainerd ctrd, String handler) throws Exception {
        Map<String, Long> t = new LinkedHashMap<>();
        String name = "pod-" + handler + "-" + UUID.randomUUID().toString().substring(0, 8);
        Path logDir = Files.createDirectories(ctrd.dir().resolve("pod-logs").resolve(name));
        PodSandboxConfig pod = podConfig(name, logDir);
        long t0 = System.nanoTime();
        String podId = cri.runPodSandbox(pod, handler);
        t0 = lap(t, "RunPodSandbox", t0);
        boolean removed = false;
        List<String> containers = new ArrayList<>();
        try {
            var status = cri.podSandboxStatus(podId);
            assertEquals(PodSandboxState.SANDBOX_READY, status.getState(), status::toString);
            assertEquals(handler, status.getRuntimeHandler(), status::toString);
            assertTrue(cri.listPodSandbox().stream().anyMatch(p -> p.getId().equals(podId)), "ListPodSandbox does not list " + podId);
            t0 = System.nanoTime();

            for (String c : List.of("c1", "c2")) {
                String id = cri.createContainer(podId, sleeper(c), pod);
                containers.add(id);
                t0 = lap(t, "CreateContainer " + c, t0);
                cri.startContainer(id);
                t0 = lap(t, "StartContainer " + c, t0);
            }
            for (int i = 0; i < containers.size(); i++) {
                String id = containers.get(i);
                String c = "c" + (i + 1);
                ContainerStatus st = cri.containerStatus(id);
                assertEquals(ContainerState.CONTAINER_RUNNING, st.getState(), st::toString);
                t0 = System.nanoTime();
                ExecSyncResponse exec = cri.execSync(id, List.of("sh", "-c", "echo exec in $CONTAINER_NAME"), 30);
                t0 = lap(t, "ExecSync " + c, t0);
                assertEquals(0, exec.getExitCode(), exec::toString);
                assertEquals("exec in " + c + "\n", exec.getStdout().toStringUtf8(), exec::toString);
                ExecSyncResponse fail = cri.execSync(id, List.of("sh", "-c", "echo oops >&2; exit 7"), 30);
                assertEquals(7, fail.getExitCode(), fail::toString);
                assertEquals("oops\n", fail.getStderr().toStringUtf8(), fail::toString);
                t0 = System.nanoTime();
                ContainerStats stats = cri.containerStats(id);
                lap(t, "ContainerStats " + c, t0);
                assertEquals(id, stats.getAttributes().getId(), stats::toString);
                assertLogged(logDir.resolve(c + ".log"), "started " + c);
            }
            assertEquals(2, cri.listContainers().stream().filter(c -> c.getPodSandboxId().equals(podId)).count(), "ListContainers");

            t0 = System.nanoTime();
            for (String id : containers) {
                cri.stopContainer(id, 10);
                t0 = lap(t, "StopContainer " + id.substring(0, 6), t0);
                ContainerStatus st = cri.containerStatus(id);
                assertEquals(ContainerState.CONTAINER_EXITED, st.getState(), st::toString);
                assertEquals(0, st.getExitCode(), "the container exits 0 on SIGTERM: " + st);
                cri.removeContainer(id);
                t0 = lap(t, "RemoveContainer " + id.substring(0, 6), t0);
            }
            containers.clear();
            cri.stopPodSandbox(podId);
            t0 = lap(t, "StopPodSandbox", t0);
            var stopped = cri.podSandboxStatus(podId);
            assertEquals(PodSandboxState.SANDBOX_NOTREADY, stopped.getState(), stopped::toString);
            cri.removePodSandbox(podId);
            lap(t, "RemovePodSandbox", t0);
            removed = true;
            assertTrue(cri.listPodSandbox().stream().noneMatch(p -> p.getId().equals(podId)), "pod still listed");
            assertTrue(cri.listContainers().stream().noneMatch(c -> c.getPodSandboxId().equals(podId)), "containers still listed");
            assertEquals(List.of(), ContainerdFixtures.awaitNoLeftovers(ctrd, Duration.ofSeconds(10)), "left after the pod was removed");
            return new Timings(t);
        } finally {
            if (!removed) {
                cleanUp(cri, podId, containers);
            }
        }
    }

    /** After a failure: remove what the scenario made, without hiding the failure. */
    private static void cleanUp(CriClient cri, String podId, List<String> containers) {
        for (String id : containers) {
            try {
                cri.removeContainer(id);
            } catch (RuntimeException e) {
                System.out.println("cleanup: RemoveContainer " + id + ": " + e.getMessage());
            }
        }
        try {
            cri.stopPodSandbox(podId);
            cri.removePodSandbox(podId);
        } catch (RuntimeException e) {
            System.out.println("cleanup: pod " + podId + ": " + e.getMessage());
        }
    }

    /** CRI writes container output to the log asynchronously: wait a little for it. */
    private static void assertLogged(Path log, String text) throws Exception {
        long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        String content = "";
        while (System.nanoTime() < end) {
            if (Files.exists(log)) {
                content = Files.readString(log, StandardCharsets.UTF_8);
                if (content.contains(text)) {
                    return;
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError(log + " does not contain \"" + text + "\": " + content);
    }

    private static long lap(Map<String, Long> t, String step, long since) {
        long now = System.nanoTime();
        t.put(step, (now - since) / 1_000_000);
        return now;
    }
}
