package dev.kava.runtime.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class OciSpecTest {
    private static final OciSpec.Process P = new OciSpec.Process(List.of("sh", "-c", "echo hi"), List.of("PATH=/bin"), "/work", 1000, 1001, true);

    @Test
    void theSpecCarriesTheProcessAsGiven() {
        var spec = JsonParser.parseString(new String(OciSpec.toJson(OciSpec.build("c1", "c1/rootfs", "host", P)), StandardCharsets.UTF_8))
                .getAsJsonObject();
        var proc = spec.getAsJsonObject("process");
        assertEquals("sh", proc.getAsJsonArray("args").get(0).getAsString());
        assertEquals("echo hi", proc.getAsJsonArray("args").get(2).getAsString());
        assertEquals("/work", proc.get("cwd").getAsString());
        assertEquals(1000, proc.getAsJsonObject("user").get("uid").getAsInt());
        assertEquals(1001, proc.getAsJsonObject("user").get("gid").getAsInt());
        assertTrue(proc.get("terminal").getAsBoolean());
        assertTrue(proc.get("noNewPrivileges").getAsBoolean());
        assertEquals("c1/rootfs", spec.getAsJsonObject("root").get("path").getAsString());
        assertEquals("/kava/c1", spec.getAsJsonObject("linux").get("cgroupsPath").getAsString());
        assertEquals("host", spec.get("hostname").getAsString());
    }

    @Test
    void theContainerGetsItsOwnNamespacesAndNoDangerousCapabilities() {
        var spec = OciSpec.build("c1", "c1/rootfs", "h", P);
        var types = spec.getAsJsonObject("linux").getAsJsonArray("namespaces").asList().stream()
                .map(e -> e.getAsJsonObject().get("type").getAsString()).toList();
        assertTrue(types.containsAll(List.of("pid", "ipc", "uts", "mount", "network")), types.toString());
        var caps = spec.getAsJsonObject("process").getAsJsonObject("capabilities").getAsJsonArray("bounding").asList().stream()
                .map(e -> e.getAsString()).toList();
        assertFalse(caps.contains("CAP_SYS_ADMIN"));
        assertFalse(caps.contains("CAP_SYS_MODULE"));
    }

    @Test
    void volumesAreBindMountsAfterTheDefaultMounts() {
        var spec = OciSpec.build("c1", "c1/rootfs", "h", P, List.of(
                new OciSpec.BindMount("/data", "/run/kava/shared/c1/volumes/0", false),
                new OciSpec.BindMount("/etc/x", "/run/kava/shared/c1/volumes/1", true)));
        var mounts = spec.getAsJsonArray("mounts").asList().stream().map(e -> e.getAsJsonObject()).toList();
        var data = mounts.get(mounts.size() - 2);
        assertEquals("/data", data.get("destination").getAsString());
        assertEquals("bind", data.get("type").getAsString());
        assertEquals("/run/kava/shared/c1/volumes/0", data.get("source").getAsString());
        assertEquals("[\"rbind\"]", data.getAsJsonArray("options").toString());
        assertEquals("[\"rbind\",\"ro\"]", mounts.getLast().getAsJsonArray("options").toString());
        assertEquals("/tmp", mounts.get(mounts.size() - 3).get("destination").getAsString(), "after the defaults");
    }

    @Test
    void aProcessNeedsACommandAndAnAbsoluteWorkingDirectory() {
        assertThrows(IllegalArgumentException.class, () -> new OciSpec.Process(List.of(), List.of(), "/", 0, 0, false));
        assertThrows(IllegalArgumentException.class, () -> new OciSpec.Process(List.of("sh"), List.of(), "rel", 0, 0, false));
        assertEquals("/", new OciSpec.Process(List.of("sh"), List.of(), "", 0, 0, false).cwd());
    }
}
