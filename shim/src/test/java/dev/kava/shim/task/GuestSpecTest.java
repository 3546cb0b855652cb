package dev.kava.shim.task;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.kava.linux.Mounts;
import dev.kava.runtime.resource.MountLedger;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The spec rewrite, with real bind mounts of real volumes (needs root). */
class GuestSpecTest {
    @TempDir
    Path tmp;
    private final List<String> ledger = new ArrayList<>();
    private ContainerMounts mounts;

    @BeforeEach
    void setUp() {
        assumeTrue("root".equals(System.getProperty("user.name")), "bind mounts need root; skipped");
        mounts = new ContainerMounts("c1", tmp.resolve("share/c1"), new MountLedger() {
            @Override
            public void willMount(String p) {
                ledger.add(p);
            }

            @Override
            public void unmounted(String p) {
                ledger.remove(p);
            }
        });
    }

    @AfterEach
    void tearDown() {
        if (mounts != null) mounts.close();
        assertTrue(ledger.isEmpty(), "left mounted: " + ledger);
        assertFalse(Files.exists(tmp.resolve("share/c1")), "the container's share directory is removed");
    }

    private JsonObject rewrite(String spec) throws TtrpcException {
        byte[] out = GuestSpec.forGuest(GuestSpec.parse(spec.getBytes(StandardCharsets.UTF_8), "spec"), "c1", mounts);
        return JsonParser.parseString(new String(out, StandardCharsets.UTF_8)).getAsJsonObject();
    }

    @Test
    void theProcessPassesThroughAndTheRootMovesIntoTheShare() throws TtrpcException {
        JsonObject g = rewrite("""
                {"process":{"args":["sh","-c","id"],"env":["A=1"],"cwd":"/w","user":{"uid":7,"gid":8},
                 "rlimits":[{"type":"RLIMIT_NOFILE","hard":64,"soft":64}],"capabilities":{"bounding":["CAP_KILL"]},
                 "apparmorProfile":"cri-containerd.apparmor.d","selinuxLabel":"x"},
                 "root":{"path":"/var/lib/containerd/rootfs","readonly":true},
                 "hooks":{"prestart":[{"path":"/usr/bin/hook"}]},
                 "linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/netns/cni-1"},{"type":"ipc","path":"/proc/66/ns/ipc"}]}}""");
        assertEquals("c1/rootfs", g.getAsJsonObject("root").get("path").getAsString());
        assertTrue(g.getAsJsonObject("root").get("readonly").getAsBoolean());
        JsonObject p = g.getAsJsonObject("process");
        assertEquals("[\"sh\",\"-c\",\"id\"]", p.get("args").toString());
        assertEquals("/w", p.get("cwd").getAsString());
        assertEquals(7, p.getAsJsonObject("user").get("uid").getAsInt());
        assertEquals(64, p.getAsJsonArray("rlimits").get(0).getAsJsonObject().get("hard").getAsInt());
        assertEquals("[\"CAP_KILL\"]", p.getAsJsonObject("capabilities").get("bounding").toString());
        assertFalse(p.has("apparmorProfile"));
        assertFalse(p.has("selinuxLabel"));
        assertFalse(g.has("hooks"));
        var ns = g.getAsJsonObject("linux").getAsJsonArray("namespaces").toString();
        assertEquals("[{\"type\":\"pid\"},{\"type\":\"ipc\",\"path\":\"/proc/66/ns/ipc\"}]", ns,
                "a host network namespace is dropped; paths to guest processes stay");
    }

    @Test
    void volumesAreSharedAndReadOnlyOnTheHostToo() throws IOException, TtrpcException {
        Path vol = Files.createDirectories(tmp.resolve("vol"));
        Files.writeString(vol.resolve("f"), "data");
        Path file = Files.writeString(tmp.resolve("hosts"), "127.0.0.1 localhost\n");
        JsonObject g = rewrite("""
                {"process":{"args":["true"]},"root":{"path":"r"},"mounts":[
                 {"destination":"/proc","type":"proc","source":"proc"},
                 {"destination":"/data","type":"bind","source":"%s","options":["rbind","rw"]},
                 {"destination":"/etc/hosts","type":"bind","source":"%s","options":["rbind","ro"]},
                 {"destination":"/dev/shm","type":"bind","source":"/dev/shm","options":["rbind"]}]}"""
                .formatted(vol, file));
        var m = g.getAsJsonArray("mounts");
        assertEquals("proc", m.get(0).getAsJsonObject().get("source").getAsString());
        String data = m.get(1).getAsJsonObject().get("source").getAsString();
        assertEquals("/run/kava/shared/c1/volumes/0", data);
        assertEquals("data", Files.readString(tmp.resolve("share/c1/volumes/0/f")), "the volume is visible in the share");
        assertEquals("/run/kava/shared/c1/volumes/1", m.get(2).getAsJsonObject().get("source").getAsString());
        assertEquals("127.0.0.1 localhost\n", Files.readString(tmp.resolve("share/c1/volumes/1")));
        assertThrows(IOException.class, () -> Files.writeString(tmp.resolve("share/c1/volumes/1"), "x"),
                "a read-only volume is read-only on the host side as well");
        assertEquals("tmpfs", m.get(3).getAsJsonObject().get("type").getAsString(), "/dev/shm becomes a guest tmpfs");
        assertEquals(2, ledger.size());
        assertTrue(Mounts.isMountPoint(tmp.resolve("share/c1/volumes/0").toString()));
    }

    @Test
    void badSpecsAreInvalidArgumentsAndLeaveNothingMounted() throws IOException {
        TtrpcException e = assertThrows(TtrpcException.class, () -> GuestSpec.parse("{".getBytes(), "spec"));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        e = assertThrows(TtrpcException.class, () -> rewrite("{\"root\":{\"path\":\"r\"}}"));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        e = assertThrows(TtrpcException.class, () -> rewrite(
                "{\"process\":{},\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"relative/dir\"}]}"));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("/x"), e.getMessage());
        e = assertThrows(TtrpcException.class, () -> rewrite(
                "{\"process\":{},\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"" + tmp.resolve("missing") + "\"}]}"));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        assertTrue(ledger.isEmpty());
    }
}
