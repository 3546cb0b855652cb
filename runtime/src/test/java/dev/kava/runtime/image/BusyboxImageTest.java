package dev.kava.runtime.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BusyboxImageTest {
    @TempDir Path cache;

    @BeforeAll
    static void needsBusyboxStatic() {
        assumeTrue(Files.isExecutable(Path.of("/bin/busybox")), "skipped: /bin/busybox missing (apt-get install busybox-static)");
    }

    @Test
    void buildsARunnableRootfsWithAppletLinks() throws Exception {
        Image image = new ImageStore(cache).resolve("busybox", ProgressListener.silent());
        Path rootfs = image.rootfs();
        assertEquals(Path.of("busybox"), Files.readSymbolicLink(rootfs.resolve("bin/sh")));
        assertEquals(rootfs.resolve("bin/busybox").toRealPath(), rootfs.resolve("usr/bin/env").toRealPath());
        Process p = new ProcessBuilder(rootfs.resolve("bin/busybox").toString(), "echo", "ok").redirectErrorStream(true).start();
        assertEquals("ok\n", new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        assertEquals(0, p.waitFor());
        assertTrue(Files.readString(rootfs.resolve("etc/passwd")).startsWith("root:x:0:0:"));
        assertTrue(Files.readString(rootfs.resolve("etc/passwd")).contains("nobody:"));
        assertEquals(0, Files.size(rootfs.resolve("etc/resolv.conf")));
        assertEquals(01777, (int) Files.getAttribute(rootfs.resolve("tmp"), "unix:mode") & 07777);
        for (String dir : List.of("proc", "sys", "dev", "run", "root", "etc/group", "etc/hosts")) {
            assertTrue(Files.exists(rootfs.resolve(dir)), dir);
        }
        assertEquals(List.of("sh"), image.config().command(List.of()));
        assertEquals("/", image.config().workingDir());
        assertEquals(List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), image.config().env());
    }

    @Test
    void digestCoversTheBinaryAndTheRecipe() throws Exception {
        String digest = new BusyboxImage(Path.of("/bin/busybox")).digest();
        assertTrue(digest.matches("sha256:[0-9a-f]{64}"));
        Image image = new ImageStore(cache).resolve("busybox", null);
        assertEquals(digest, image.digest());
        assertEquals(cache.resolve("images").resolve(digest.substring(7)).resolve("rootfs"), image.rootfs());
    }

    @Test
    void missingBusyboxSaysWhatToInstall() {
        ImageException e = assertThrows(ImageException.class,
                () -> new ImageStore(cache, cache.resolve("no-busybox")).resolve("busybox", ProgressListener.silent()));
        assertTrue(e.getMessage().contains("apt-get install busybox-static"), e.getMessage());
    }
}
