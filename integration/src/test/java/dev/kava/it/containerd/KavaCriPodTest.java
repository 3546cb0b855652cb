package dev.kava.it.containerd;

import static org.junit.jupiter.api.Assertions.*;

import dev.kava.cli.containerd.ContainerdOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CRI pod contract with the kava handler (containerd's CRI plugin driving containerd-shim-kava-v2),
 * and what only a VM runtime has to show: the containers of a pod share one VM, whose kernel is not the
 * host's, and nothing of the pod is left once it is removed.
 */
@Tag("vm")
class KavaCriPodTest extends CriPodContract {
    @Override
    protected String runtimeHandler() {
        return "kava";
    }

    @Override
    protected ContainerdOptions options() {
        return KavaShim.options(ContainerdOptions.defaults().withNamespace("kava-cri-test"));
    }

    @AfterEach
    void nothingLeft() throws Exception {
        if (ctrd == null) return;
        assertEquals(List.of(), KavaShim.awaitNoLeftovers(ContainerdOptions.CRI_NAMESPACE, 20_000), "a kava pod left something");
    }

    @Test
    void theContainersOfAPodShareOneVm() throws Exception {
        var pod = CriPodScenario.podConfig("shared-vm", Files.createDirectories(ctrd.dir().resolve("pod-logs/shared-vm")));
        String podId = cri.runPodSandbox(pod, "kava");
        List<String> ids = new ArrayList<>();
        try {
            for (String c : List.of("a", "b")) {
                String id = cri.createContainer(podId, CriPodScenario.sleeper(c), pod);
                ids.add(id);
                cri.startContainer(id);
            }
            String hostBoot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
            List<String> boots = new ArrayList<>();
            for (String id : ids) {
                var r = cri.execSync(id, List.of("cat", "/proc/sys/kernel/random/boot_id"), 30);
                assertEquals(0, r.getExitCode(), r::toString);
                boots.add(r.getStdout().toStringUtf8().trim());
            }
            assertEquals(boots.get(0), boots.get(1), "both containers run on the same kernel");
            assertNotEquals(hostBoot, boots.get(0), "and it is not the host's");
            Path sandbox = Path.of("/run/kava", dev.kava.shim.SandboxIds.sandboxId(ContainerdOptions.CRI_NAMESPACE, podId));
            assertTrue(Files.isDirectory(sandbox), "the pod's sandbox is named after the CRI pod: " + sandbox);
            try (Stream<Path> s = Files.list(Path.of("/run/kava"))) {
                assertEquals(1, s.filter(p -> p.getFileName().toString().startsWith(ContainerdOptions.CRI_NAMESPACE + "--")).count(),
                        "one VM sandbox for the whole pod");
            }
            var ipcA = cri.execSync(ids.get(0), List.of("readlink", "/proc/self/ns/ipc"), 30).getStdout().toStringUtf8().trim();
            var ipcB = cri.execSync(ids.get(1), List.of("readlink", "/proc/self/ns/ipc"), 30).getStdout().toStringUtf8().trim();
            assertEquals(ipcA, ipcB, "IPC is shared in the pod (namespace path of the sandbox container, a guest pid)");
            var stats = cri.containerStats(ids.get(0));
            assertTrue(stats.getMemory().getWorkingSetBytes().getValue() > 0 || stats.getMemory().getUsageBytes().getValue() > 0,
                    "memory figures come from the guest's cgroup: " + stats);
        } finally {
            for (String id : ids) {
                cri.stopContainer(id, 10);
                cri.removeContainer(id);
            }
            cri.stopPodSandbox(podId);
            cri.removePodSandbox(podId);
        }
    }
}
