package dev.kava.shim;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ShimArgsTest {
    @Test
    void containerdStartCommandLine() {
        ShimArgs a = ShimArgs.parse(new String[] {"-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock",
                "-publish-binary", "/usr/bin/containerd", "-id", "abc", "-debug", "start"});
        assertEquals("k8s.io", a.namespace());
        assertEquals("/run/containerd/containerd.sock", a.address());
        assertEquals("/usr/bin/containerd", a.publishBinary());
        assertEquals("abc", a.id());
        assertEquals("abc", a.key(), "without -key the pod is the container itself");
        assertTrue(a.debug());
        assertEquals("start", a.action());
    }

    @Test
    void deleteWithBundleAndEqualsForm() {
        ShimArgs a = ShimArgs.parse(new String[] {"--namespace=default", "-id=c1", "-bundle", "/b/c1", "delete"});
        assertEquals("default", a.namespace());
        assertEquals("c1", a.id());
        assertEquals(Path.of("/b/c1"), a.bundle());
        assertFalse(a.debug());
        assertEquals("delete", a.action());
    }

    @Test
    void serveFlagsOfTheLauncher() {
        ShimArgs a = ShimArgs.parse(new String[] {"-id", "c2", "-socket", "/run/kava/shim/x.sock", "-key", "pod1", "serve"});
        assertEquals(Path.of("/run/kava/shim/x.sock"), a.socket());
        assertEquals("pod1", a.key());
    }

    @Test
    void unknownFlagsAreSkippedButTheActionIsRequired() {
        assertEquals("start", ShimArgs.parse(new String[] {"-id", "x", "-some-new-flag", "start"}).action());
        assertThrows(IllegalArgumentException.class, () -> ShimArgs.parse(new String[] {"-id", "x"}));
        assertThrows(IllegalArgumentException.class, () -> ShimArgs.parse(new String[] {"start", "delete"}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ShimArgs.parse(new String[] {"start", "-id"}));
        assertTrue(e.getMessage().contains("-id"), e.getMessage());
    }
}
