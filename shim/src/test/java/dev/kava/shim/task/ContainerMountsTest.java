package dev.kava.shim.task;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kava.api.containerd.types.Mount;
import dev.kava.linux.Mounts;
import dev.kava.runtime.KavaException;
import dev.kava.runtime.resource.MountLedger;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rootfs mounts containerd sends, mounted for real (needs root). */
class ContainerMountsTest {
    @TempDir
    Path tmp;
    private final List<String> ledger = new ArrayList<>();
    private final MountLedger recorder = new MountLedger() {
        @Override
        public void willMount(String p) {
            ledger.add(p);
        }

        @Override
        public void unmounted(String p) {
            ledger.remove(p);
        }
    };

    @BeforeEach
    void root() {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounts need root; skipped");
    }

    @Test
    void overlayFromTheOverlayfsSnapshotter() throws IOException {
        Path lower = Files.createDirectories(tmp.resolve("lower"));
        Files.writeString(lower.resolve("etc-release"), "image");
        Path upper = Files.createDirectories(tmp.resolve("upper"));
        Path work = Files.createDirectories(tmp.resolve("work"));
        ContainerMounts m = new ContainerMounts("c1", tmp.resolve("share/c1"), recorder);
        Path root = m.mountRootfs(List.of(Mount.newBuilder().setType("overlay").setSource("overlay")
                .addOptions("index=off").addOptions("workdir=" + work).addOptions("upperdir=" + upper)
                .addOptions("lowerdir=" + lower).build()), tmp.resolve("bundle/rootfs"));
        assertEquals("image", Files.readString(root.resolve("etc-release")));
        Files.writeString(root.resolve("new"), "written");
        assertEquals("written", Files.readString(upper.resolve("new")), "writes land in the snapshot's upper dir");
        assertEquals(List.of(root.toString()), ledger);
        m.close();
        assertFalse(Mounts.isMountPoint(root.toString()));
        assertFalse(Files.exists(tmp.resolve("share/c1")));
        assertTrue(ledger.isEmpty());
        assertEquals("written", Files.readString(upper.resolve("new")), "the snapshot itself is untouched");
    }

    @Test
    void readOnlyBindFromTheNativeSnapshotter() throws IOException {
        Path snap = Files.createDirectories(tmp.resolve("snap"));
        Files.writeString(snap.resolve("f"), "x");
        ContainerMounts m = new ContainerMounts("c2", tmp.resolve("share/c2"), recorder);
        Path root = m.mountRootfs(List.of(Mount.newBuilder().setType("bind").setSource(snap.toString())
                .addOptions("rbind").addOptions("ro").build()), tmp.resolve("bundle/rootfs"));
        assertEquals("x", Files.readString(root.resolve("f")));
        assertThrows(IOException.class, () -> Files.writeString(root.resolve("g"), "y"));
        m.close();
        assertTrue(ledger.isEmpty());
        assertEquals("x", Files.readString(snap.resolve("f")));
    }

    @Test
    void noMountsMeansTheBundlesRootfsAndAFailureRecordsNothing() throws IOException {
        Path bundleRoot = Files.createDirectories(tmp.resolve("bundle/rootfs"));
        Files.writeString(bundleRoot.resolve("f"), "b");
        ContainerMounts m = new ContainerMounts("c3", tmp.resolve("share/c3"), recorder);
        assertEquals("b", Files.readString(m.mountRootfs(List.of(), bundleRoot).resolve("f")));
        m.close();
        ContainerMounts bad = new ContainerMounts("c4", tmp.resolve("share/c4"), recorder);
        KavaException e = assertThrows(KavaException.class, () -> bad.mountRootfs(List.of(Mount.newBuilder()
                .setType("overlay").setSource("overlay").addOptions("lowerdir=" + tmp.resolve("missing")).build()), bundleRoot));
        assertTrue(e.getMessage().contains("overlay"), e.getMessage());
        bad.close();
        assertTrue(ledger.isEmpty());
        assertFalse(Files.exists(tmp.resolve("share/c4")));
    }
}
