package dev.kava.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kava run PATH}: an OCI image layout written here with GNU tar (two layers, gzip and plain, a
 * whiteout), run as a directory and as a tar, in a real VM.
 */
@Tag("vm")
class OciImageRunTest {
    @TempDir
    static Path tmp;
    static Path layout;
    private final Kava.Ids ids = new Kava.Ids("oci");

    @BeforeAll
    static void writeImage() throws Exception {
        Path l1 = Files.createDirectories(tmp.resolve("l1"));
        Files.createDirectories(l1.resolve("bin"));
        Files.createDirectories(l1.resolve("etc"));
        Files.copy(Path.of("/bin/busybox"), l1.resolve("bin/busybox"));
        for (String applet : List.of("sh", "cat", "ls", "echo", "pwd")) {
            Files.createSymbolicLink(l1.resolve("bin/" + applet), Path.of("busybox"));
        }
        Files.writeString(l1.resolve("etc/hello.txt"), "from layer 1\n");
        Files.writeString(l1.resolve("etc/gone.txt"), "deleted by layer 2\n");
        Path l2 = Files.createDirectories(tmp.resolve("l2/etc"));
        Files.writeString(l2.resolve(".wh.gone.txt"), "");
        Files.writeString(l2.resolve("second.txt"), "from layer 2\n");

        layout = Files.createDirectories(tmp.resolve("layout"));
        Path blobs = Files.createDirectories(layout.resolve("blobs/sha256"));
        byte[] layer1 = tar(l1, true);
        byte[] layer2 = tar(tmp.resolve("l2"), false);
        String d1 = blob(blobs, layer1), d2 = blob(blobs, layer2);
        String diff1 = sha(new GZIPInputStream(new ByteArrayInputStream(layer1)).readAllBytes());
        String config = """
                {"architecture":"amd64","os":"linux",
                 "config":{"Env":["PATH=/bin","GREETING=hi from the image"],"Cmd":["cat","/etc/hello.txt"],"WorkingDir":"/etc"},
                 "rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}""".formatted(diff1, sha(layer2));
        String dc = blob(blobs, config.getBytes(StandardCharsets.UTF_8));
        String manifest = """
                {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},
                 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d},
                           {"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}"""
                .formatted(dc, config.getBytes(StandardCharsets.UTF_8).length, d1, layer1.length, d2, layer2.length);
        String dm = blob(blobs, manifest.getBytes(StandardCharsets.UTF_8));
        Files.writeString(layout.resolve("index.json"), """
                {"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",
                 "digest":"sha256:%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}}]}"""
                .formatted(dm, manifest.getBytes(StandardCharsets.UTF_8).length));
        Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    private static byte[] tar(Path dir, boolean gzip) throws Exception {
        Path out = tmp.resolve(dir.getFileName() + (gzip ? ".tar.gz" : ".tar"));
        Process p = new ProcessBuilder("tar", "--numeric-owner", "--owner=0", "--group=0", gzip ? "-czf" : "-cf", out.toString(),
                "-C", dir.toString(), ".").inheritIO().start();
        assertEquals(0, p.waitFor());
        return Files.readAllBytes(out);
    }

    private static String sha(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static String blob(Path blobs, byte[] b) throws Exception {
        String d = sha(b);
        Files.write(blobs.resolve(d), b);
        return d;
    }

    private String id() {
        return ids.next();
    }

    @AfterEach
    void nothingLeftBehind() throws Exception {
        ids.assertNothingLeft();
    }

    @Test
    void theImagesDefaultCommandRunsWithItsLayersApplied() throws Exception {
        var r = Kava.run("run", "--rm", "--name", id(), layout.toString());
        assertEquals(0, r.status(), r::toString);
        assertEquals("from layer 1\n", r.stdout(), r::toString);
    }

    @Test
    void whiteoutsEnvAndWorkingDirectoryApply() throws Exception {
        var r = Kava.run("run", "--rm", "--name", id(), layout.toString(), "sh", "-c", "ls /etc; echo \"$GREETING\"; pwd");
        assertEquals(0, r.status(), r::toString);
        assertTrue(r.stdout().contains("second.txt"), r::toString);
        assertTrue(r.stdout().contains("hello.txt"), r::toString);
        assertFalse(r.stdout().contains("gone.txt"), "the whiteout did not delete gone.txt: " + r);
        assertTrue(r.stdout().contains("hi from the image\n/etc\n"), r::toString);
    }

    @Test
    void theSameImageAsATarRuns() throws Exception {
        Path tar = tmp.resolve("image.tar");
        Process p = new ProcessBuilder("tar", "-cf", tar.toString(), "-C", layout.toString(), ".").inheritIO().start();
        assertEquals(0, p.waitFor());
        var r = Kava.run("run", "--rm", "--name", id(), tar.toString(), "cat", "/etc/second.txt");
        assertEquals(0, r.status(), r::toString);
        assertEquals("from layer 2\n", r.stdout(), r::toString);
    }
}
