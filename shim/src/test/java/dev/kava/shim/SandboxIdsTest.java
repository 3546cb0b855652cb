package dev.kava.shim;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SandboxIdsTest {
    @TempDir
    Path bundle;

    @Test
    void aCriContainerJoinsItsPodSandbox() throws IOException {
        Files.writeString(bundle.resolve("config.json"),
                "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\",\"io.kubernetes.cri.sandbox-id\":\"0123abcd\"}}");
        assertEquals("0123abcd", SandboxIds.podKey(bundle, "c1"));
    }

    @Test
    void anyOtherContainerIsItsOwnPod() throws IOException {
        assertEquals("c1", SandboxIds.podKey(bundle, "c1"), "no config.json");
        Files.writeString(bundle.resolve("config.json"), "{\"annotations\":{}}");
        assertEquals("c1", SandboxIds.podKey(bundle, "c1"));
        Files.writeString(bundle.resolve("config.json"), "not json");
        assertEquals("c1", SandboxIds.podKey(bundle, "c1"));
    }

    @Test
    void aHostileAnnotationIsNotAPath() throws IOException {
        Files.writeString(bundle.resolve("config.json"), "{\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"../../etc\"}}");
        assertEquals("c1", SandboxIds.podKey(bundle, "c1"));
    }

    @Test
    void shimSocketNamesFitAUnixSocketPath() throws Exception {
        assertEquals("default--t1", SandboxIds.shimSocketName("default", "t1"));
        String cri = SandboxIds.shimSocketName("k8s.io", "f".repeat(64));
        assertEquals("k8s.io--" + "f".repeat(64), cri);
        String longOne = SandboxIds.shimSocketName("n".repeat(76), "k".repeat(76));
        assertEquals(32, longOne.length());
        // the launcher computes the same name with sha256sum
        Process p = new ProcessBuilder("sh", "-c", "printf '%s/%s' \"$0\" \"$1\" | sha256sum | cut -c1-32", "n".repeat(76), "k".repeat(76)).start();
        assertEquals(longOne, new String(p.getInputStream().readAllBytes()).trim());
        assertTrue(("/run/kava/shim/" + cri + ".sock").length() <= 107);
    }

    @Test
    void sandboxIdsAreUnambiguousAndFitTheStateDirectoryRules() {
        Set<String> seen = new HashSet<>();
        String[][] cases = {{"a-b", "c"}, {"a", "b-c"}, {"k8s.io", "f".repeat(64)}, {"default", "t1"},
                {"n".repeat(76), "x"}, {"n".repeat(76), "y"}};
        for (String[] c : cases) {
            String id = SandboxIds.sandboxId(c[0], c[1]);
            assertTrue(id.matches("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}"), id);
            assertTrue(seen.add(id), "collision: " + id);
        }
        assertEquals("default--t1", SandboxIds.sandboxId("default", "t1"));
        assertEquals("default--t1", SandboxIds.sandboxId("", "t1"), "no namespace is containerd's default");
        assertEquals(SandboxIds.sandboxId("k8s.io", "f".repeat(64)), SandboxIds.sandboxId("k8s.io", "f".repeat(64)));
    }
}
