package dev.kava.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** kava check, env, cleanup and configuration errors, through the real launcher (no VM needed). */
class KavaToolsTest {

    @Test
    void checkSaysWhichHypervisorAndWhyAndSucceedsHere() throws Exception {
        var r = Kava.run("check");
        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().contains("hypervisor"), r::toString);
        assertTrue(r.stdout().contains("using qemu"), r::toString);
        assertTrue(r.stdout().contains("guest kernel"), r::toString);
        assertTrue(r.stdout().contains("kava can run containers on this host."), r::toString);
        if (!Files.exists(Path.of("/dev/kvm")) || Files.isDirectory(Path.of("/sys/module/kvm_pvm"))) {
            assertTrue(r.stdout().contains("TCG"), "should say the VMs run under TCG here: " + r);
        }
    }

    @Test
    void checkFailsWhenTheGuestImageIsMissing(@TempDir Path tmp) throws Exception {
        Path cfg = tmp.resolve("k.toml");
        Files.writeString(cfg, "[hypervisor]\nimage = \"" + tmp.resolve("no-image") + "\"\n");
        var r = Kava.run("check", "--config", cfg.toString());
        assertEquals(1, r.status(), r::toString);
        assertTrue(r.stdout().contains("FAIL") && r.stdout().contains("no-image"), r::toString);
    }

    @Test
    void envPrintsTheEffectiveConfigurationFromTheFile(@TempDir Path tmp) throws Exception {
        Path cfg = tmp.resolve("k.toml");
        Files.writeString(cfg, "[hypervisor]\nvcpus = 2\nmemory_mib = 768\n");
        var r = Kava.run("env", "--config", cfg.toString());
        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().contains("vcpus = 2"), r::toString);
        assertTrue(r.stdout().contains("memory_mib = 768"), r::toString);
        assertTrue(r.stdout().contains("# source: " + cfg), r::toString);
    }

    @Test
    void aBadConfigurationIsAClearErrorNotAStackTrace(@TempDir Path tmp) throws Exception {
        Path cfg = tmp.resolve("k.toml");
        Files.writeString(cfg, "[hypervisor]\nvcpu = 2\n");
        var r = Kava.run("run", "--config", cfg.toString(), "busybox", "true");
        assertEquals(125, r.status(), r::toString);
        assertTrue(r.stderr().contains("unknown key 'hypervisor.vcpu'"), r::toString);
        assertFalse(r.stderr().contains("\tat "), "printed a stack trace: " + r);
    }

    @Test
    void aMissingImageIsAClearError() throws Exception {
        var r = Kava.run("run", "--rm", "/nonexistent/image.tar", "true");
        assertEquals(125, r.status(), r::toString);
        assertTrue(r.stderr().contains("/nonexistent/image.tar"), r::toString);
    }

    @Test
    void cleanupRemovesASandboxWhoseOwnerDied(@TempDir Path tmp) throws Exception {
        Path state = tmp.resolve("state");
        Path dir = Files.createDirectories(state.resolve("orphan-1"));
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        Files.writeString(dir.resolve("state.json"), "{\"id\":\"orphan-1\",\"ownerPid\":" + dead.pid()
                + ",\"ownerStartTime\":1,\"hypervisor\":\"qemu\",\"vmPid\":0,\"mounts\":[],\"created\":\"x\"}");
        Path cfg = tmp.resolve("k.toml");
        Files.writeString(cfg, "[runtime]\nstate_dir = \"" + state + "\"\n");
        var r = Kava.run(List.of("cleanup", "--config", cfg.toString()), null, 60, Map.of());
        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().contains("orphan-1"), r::toString);
        assertFalse(Files.exists(dir), "the orphan's state directory is still there");
    }
}
