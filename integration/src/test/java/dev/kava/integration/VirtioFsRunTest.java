package dev.kava.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./kava run} with the shared directory served by kava's own virtio-fs server (the default):
 * the container's root file system and its {@code -v} volumes reach the guest through it.
 */
@Tag("vm")
class VirtioFsRunTest {
    private final Kava.Ids ids = new Kava.Ids("vfs");

    @TempDir
    Path tmp;

    private String id() {
        return ids.next();
    }

    @AfterEach
    void nothingLeftBehind() throws Exception {
        ids.assertNothingLeft();
    }

    @Test
    void theRootfsIsVirtioFsAndVolumesReadAndWriteHostFiles() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Files.writeString(data.resolve("in.txt"), "from the host\n");
        Path config = Files.writeString(tmp.resolve("hosts-file"), "a single file\n");
        var r = Kava.run("run", "--rm", "--name", id(), "-v", data + ":/data", "-v", config + ":/etc/kava-file:ro",
                "busybox", "sh", "-c", "grep ' / ' /proc/mounts; cat /data/in.txt; echo written-in-the-container > /data/out.txt;"
                        + " cat /etc/kava-file; echo x >> /etc/kava-file 2>/dev/null || echo file-is-read-only");
        assertEquals(0, r.status(), r::toString);
        String rootLine = r.stdout().lines().findFirst().orElse("");
        assertTrue(rootLine.contains(" / virtiofs "), "the container's root comes from virtio-fs: " + r);
        assertTrue(r.stdout().contains("from the host\n"), r::toString);
        assertTrue(r.stdout().contains("a single file\n"), r::toString);
        assertTrue(r.stdout().contains("file-is-read-only"), r::toString);
        assertEquals("written-in-the-container\n", Files.readString(data.resolve("out.txt")));
        assertEquals("a single file\n", Files.readString(config));
        assertEquals("from the host\n", Files.readString(data.resolve("in.txt")), "the host's files are left alone");
    }

    @Test
    void aReadOnlyVolumeRefusesWrites() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("ro"));
        Files.writeString(data.resolve("keep.txt"), "keep\n");
        var r = Kava.run("run", "--rm", "--name", id(), "-v", data + ":/data:ro", "busybox", "sh", "-c",
                "cat /data/keep.txt; if echo x > /data/new.txt; then echo WROTE; else echo refused; fi;"
                        + " if rm /data/keep.txt; then echo REMOVED; else echo kept; fi; grep ' /data ' /proc/mounts");
        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().startsWith("keep\n"), r::toString);
        assertTrue(r.stdout().contains("refused") && r.stdout().contains("kept"), r::toString);
        assertTrue(r.stdout().contains(" ro,") || r.stdout().contains(" ro "), "mounted read-only in the container: " + r);
        assertFalse(Files.exists(data.resolve("new.txt")));
        assertEquals("keep\n", Files.readString(data.resolve("keep.txt")));
    }

    @Test
    void volumeMistakesAreClearErrorsBeforeAnyVmStarts() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("d"));
        var relative = Kava.run("run", "--rm", "-v", "relative/dir:/data", "busybox", "true");
        assertEquals(125, relative.status(), relative::toString);
        assertTrue(relative.stderr().contains("host path must be absolute"), relative::toString);
        var missing = Kava.run("run", "--rm", "-v", tmp.resolve("missing") + ":/data", "busybox", "true");
        assertEquals(125, missing.status(), missing::toString);
        assertTrue(missing.stderr().contains("does not exist"), missing::toString);
        var containerRelative = Kava.run("run", "--rm", "-v", data + ":data", "busybox", "true");
        assertEquals(125, containerRelative.status(), containerRelative::toString);
        assertTrue(containerRelative.stderr().contains("container path must be absolute"), containerRelative::toString);
        var badMode = Kava.run("run", "--rm", "-v", data + ":/data:rx", "busybox", "true");
        assertEquals(125, badMode.status(), badMode::toString);
        assertTrue(badMode.stderr().contains("ro or rw"), badMode::toString);
        for (var r : List.of(relative, missing, containerRelative, badMode)) {
            assertFalse(r.stderr().contains("\tat "), "printed a stack trace: " + r);
        }
    }

    @Test
    void ninePStaysAvailableThroughTheConfiguration() throws Exception {
        Path cfg = Files.writeString(tmp.resolve("9p.toml"), "[hypervisor]\nshared_fs = \"9p\"\n");
        Path data = Files.createDirectories(tmp.resolve("nine"));
        Files.writeString(data.resolve("in.txt"), "over 9p\n");
        var r = Kava.run("run", "--rm", "--config", cfg.toString(), "--name", id(), "-v", data + ":/data",
                "busybox", "sh", "-c", "grep ' / ' /proc/mounts; cat /data/in.txt");
        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().lines().findFirst().orElse("").contains(" / 9p "), r::toString);
        assertTrue(r.stdout().contains("over 9p\n"), r::toString);
    }

    @Test
    void aBadSharedFsSettingNamesTheKeyAndTheChoices() throws Exception {
        Path cfg = Files.writeString(tmp.resolve("bad.toml"), "[hypervisor]\nshared_fs = \"nfs\"\nvirtio_fs_cache = \"sometimes\"\n");
        var r = Kava.run("run", "--rm", "--config", cfg.toString(), "busybox", "true");
        assertEquals(125, r.status(), r::toString);
        assertTrue(r.stderr().contains("hypervisor.shared_fs") && r.stderr().contains("\"virtio-fs\", \"9p\""), r::toString);
        var env = Kava.run("env");
        assertTrue(env.stdout().contains("shared_fs = \"virtio-fs\"") && env.stdout().contains("virtio_fs_cache = \"auto\""), env::toString);
    }

    @Test
    void cleanupUndoesTheVolumeMountOfAKilledKavaAndKeepsTheHostFiles() throws Exception {
        String id = id();
        Path data = Files.createDirectories(tmp.resolve("precious"));
        Files.writeString(data.resolve("precious.txt"), "do not delete\n");
        Process p = Kava.startAndAwait(List.of("run", "--rm", "--name", id, "-v", data + ":/data", "busybox", "sh", "-c",
                "cat /data/precious.txt; echo started; exec sleep 1000"), "started").process();
        new ProcessBuilder("kill", "-KILL", Long.toString(p.pid())).start().waitFor();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        String state = Files.readString(Path.of("/run/kava", id, "state.json"));
        assertTrue(state.contains("/volumes/0"), "the volume's mount point was recorded: " + state);
        var r = Kava.run(List.of("cleanup"), null, 60, Map.of());
        assertEquals(0, r.status(), r::toString);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Kava.leftovers(id).isEmpty() && System.nanoTime() < until) Thread.sleep(100);
        assertEquals("do not delete\n", Files.readString(data.resolve("precious.txt")), "cleanup left the volume's files alone");
    }
}
