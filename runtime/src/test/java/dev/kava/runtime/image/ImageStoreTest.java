package dev.kava.runtime.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageStoreTest {
    @TempDir Path tmp;

    private Path cache() {
        return tmp.resolve("cache");
    }

    private static List<byte[]> layers() {
        return List.of(
                TarWriter.gzip(new TarWriter().dir("bin/").file("bin/tool", "v1", 0755).file("etc/motd", "hello").finish()),
                new TarWriter().file("bin/tool", "v2", 0755).symlink("bin/t", "tool").hardlink("bin/tool2", "bin/tool").finish(),
                TarWriter.gzip(new TarWriter().file("etc/.wh.motd", "").finish()));
    }

    private static void assertUnpacked(Image image) throws Exception {
        Path rootfs = image.rootfs();
        assertEquals("v2", Files.readString(rootfs.resolve("bin/tool")));
        assertEquals("v2", Files.readString(rootfs.resolve("bin/t")));
        assertEquals(Files.getAttribute(rootfs.resolve("bin/tool"), "unix:ino"), Files.getAttribute(rootfs.resolve("bin/tool2"), "unix:ino"));
        assertFalse(Files.exists(rootfs.resolve("etc/motd")));
        assertEquals(List.of("/work"), List.of(image.config().workingDir()));
        assertEquals("1000:1000", image.config().user());
        assertEquals(List.of("PATH=/bin", "A=1"), image.config().env());
        assertTrue(Files.isRegularFile(rootfs.resolveSibling("config.json")));
    }

    @Test
    void resolvesAnOciLayoutDirectory() throws Exception {
        Path dir = TestImages.ociDirectory(tmp.resolve("img"), TestImages.config(), layers());
        Image image = new ImageStore(cache()).resolve(dir.toString(), ProgressListener.silent());
        assertUnpacked(image);
        assertEquals(dir.toString(), image.reference());
        assertEquals(cache().resolve("images").resolve(image.digest().substring(7)).resolve("rootfs"), image.rootfs());
    }

    @Test
    void resolvesAnOciLayoutTarAndANestedIndexPickingLinuxAmd64() throws Exception {
        String[] digest = new String[1];
        Map<String, byte[]> files = TestImages.ociFiles(TestImages.config(), layers(), digest);
        JsonObject amd64 = TestImages.index(); // rebuild index.json as: index -> nested index -> [arm64, amd64]
        JsonObject real = com.google.gson.JsonParser.parseString(new String(files.get("index.json"), StandardCharsets.UTF_8))
                .getAsJsonObject().getAsJsonArray("manifests").get(0).getAsJsonObject();
        JsonObject arm = real.deepCopy();
        arm.getAsJsonObject("platform").addProperty("architecture", "arm64");
        arm.addProperty("digest", "sha256:" + "0".repeat(64));
        amd64 = TestImages.index(arm, real);
        JsonObject nested = TestImages.blob(files, "application/vnd.oci.image.index.v1+json", TestImages.bytes(amd64));
        files.put("index.json", TestImages.bytes(TestImages.index(nested)));
        Path tar = TestImages.writeTar(tmp.resolve("img.tar"), files);
        Image image = new ImageStore(cache()).resolve(tar.toString(), ProgressListener.silent());
        assertUnpacked(image);
        assertEquals(digest[0], image.digest());
    }

    @Test
    void resolvesADockerSaveArchiveWithGzipAndPlainLayers() throws Exception {
        Path tar = TestImages.dockerArchive(tmp.resolve("docker.tar"),
                TestImages.config(List.of("/bin/tool", "--x"), List.of("run")), layers());
        Image image = new ImageStore(cache()).resolve(tar.toString(), ProgressListener.silent());
        assertUnpacked(image);
        assertEquals(List.of("/bin/tool", "--x", "run"), image.config().command(List.of()));
        assertEquals(List.of("/bin/tool", "--x", "other"), image.config().command(List.of("other")));
    }

    @Test
    void resolvesAGzippedImageTar() throws Exception {
        Path tar = TestImages.ociTar(tmp.resolve("img.tar"), TestImages.config(), layers());
        Path gz = Files.write(tmp.resolve("img.tar.gz"), TarWriter.gzip(Files.readAllBytes(tar)));
        assertUnpacked(new ImageStore(cache()).resolve(gz.toString(), ProgressListener.silent()));
        try (Stream<Path> scratch = Files.list(cache().resolve("tmp"))) {
            assertEquals(0, scratch.count(), "the decompressed copy is deleted");
        }
    }

    @Test
    void secondResolveIsACacheHit() throws Exception {
        Path dir = TestImages.ociDirectory(tmp.resolve("img"), TestImages.config(), layers());
        List<String> steps = new ArrayList<>();
        Image first = new ImageStore(cache()).resolve(dir.toString(), steps::add);
        assertTrue(steps.stream().anyMatch(s -> s.startsWith("unpacking layer 3/3")), steps.toString());
        Object inode = Files.getAttribute(first.rootfs(), "unix:ino");
        Object ctime = Files.getAttribute(first.rootfs(), "unix:ctime");
        steps.clear();
        Image second = new ImageStore(cache()).resolve(dir.toString(), steps::add);
        assertEquals(first, second);
        assertEquals(inode, Files.getAttribute(second.rootfs(), "unix:ino"));
        assertEquals(ctime, Files.getAttribute(second.rootfs(), "unix:ctime"));
        assertTrue(steps.stream().noneMatch(s -> s.startsWith("unpacking")), steps.toString());
    }

    @Test
    void concurrentResolvesOfOneImageUnpackItOnce() throws Exception {
        Path dir = TestImages.ociDirectory(tmp.resolve("img"), TestImages.config(), layers());
        List<String> steps = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Callable<Image>> tasks = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            tasks.add(() -> new ImageStore(cache()).resolve(dir.toString(), steps::add));
        }
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Image> images = new ArrayList<>();
            for (Future<Image> f : pool.invokeAll(tasks)) {
                images.add(f.get());
            }
            assertEquals(1, images.stream().map(Image::rootfs).distinct().count());
            assertUnpacked(images.getFirst());
        }
        assertEquals(1, steps.stream().filter(s -> s.startsWith("unpacking layer 1/")).count(), steps.toString());
        assertEquals(List.of(images().getFirst()), images());
    }

    @Test
    void concurrentResolvesFromTwoProcessesUnpackOnce() throws Exception {
        Path dir = TestImages.ociDirectory(tmp.resolve("img"), TestImages.config(), layers());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> processes = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            processes.add(new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    ResolveInAnotherProcess.class.getName(), cache().toString(), dir.toString()).redirectErrorStream(true).start());
        }
        List<String> outputs = new ArrayList<>();
        for (Process p : processes) {
            outputs.add(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            assertEquals(0, p.waitFor(), outputs.getLast());
        }
        String all = String.join("", outputs);
        assertEquals(1, all.lines().filter(l -> l.startsWith("step: unpacking layer 1/")).count(), all);
        assertEquals(1, all.lines().filter(l -> l.startsWith("rootfs: ")).distinct().count(), all);
        assertUnpacked(new ImageStore(cache()).resolve(dir.toString(), null));
        assertEquals(1, images().size(), images().toString());
    }

    @Test
    void digestMismatchIsRefusedAndLeavesNothingInTheCache() throws Exception {
        Path dir = TestImages.ociDirectory(tmp.resolve("img"), TestImages.config(), layers());
        Path blob;
        try (Stream<Path> blobs = Files.list(dir.resolve("blobs/sha256"))) {
            blob = blobs.filter(p -> {
                try {
                    return Files.readString(p, StandardCharsets.ISO_8859_1).contains("v2");
                } catch (java.io.IOException e) {
                    return false;
                }
            }).findFirst().orElseThrow();
        }
        byte[] tampered = Files.readAllBytes(blob);
        tampered[512] ^= 1;  // a byte of the first file's content
        Files.write(blob, tampered);
        ImageException e = assertThrows(ImageException.class, () -> new ImageStore(cache()).resolve(dir.toString(), ProgressListener.silent()));
        assertTrue(e.getMessage().startsWith("digest mismatch for layer blobs/sha256/" + blob.getFileName()), e.getMessage());
        assertEquals(List.of(), images());
        assertTrue(new ImageStore(cache()).list().isEmpty());
    }

    @Test
    void dockerLayerNotMatchingItsDiffIdIsRefused() throws Exception {
        Map<String, byte[]> files = TestImages.dockerFiles(TestImages.config(), layers());
        files.put("layer1/layer.tar", new TarWriter().file("bin/tool", "evil").finish());
        Path tar = TestImages.writeTar(tmp.resolve("docker.tar"), files);
        ImageException e = assertThrows(ImageException.class, () -> new ImageStore(cache()).resolve(tar.toString(), ProgressListener.silent()));
        assertTrue(e.getMessage().startsWith("digest mismatch"), e.getMessage());
        assertEquals(List.of(), images());
    }

    @Test
    void missingPathSaysNotFound() {
        ImageException e = assertThrows(ImageException.class,
                () -> new ImageStore(cache()).resolve(tmp.resolve("nope").toString(), ProgressListener.silent()));
        assertTrue(e.getMessage().startsWith("image " + tmp.resolve("nope") + " not found: no such file or directory"), e.getMessage());
    }

    @Test
    void directoryWithoutIndexOrManifestIsNotAnImage() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("empty"));
        ImageException e = assertThrows(ImageException.class, () -> new ImageStore(cache()).resolve(dir.toString(), ProgressListener.silent()));
        assertEquals(dir + " is not an OCI image layout or docker archive: no index.json or manifest.json", e.getMessage());
    }

    @Test
    void fileThatIsNotATarIsNotAnImage() throws Exception {
        Path file = Files.writeString(tmp.resolve("notes.txt"), "x".repeat(2000));
        ImageException e = assertThrows(ImageException.class, () -> new ImageStore(cache()).resolve(file.toString(), ProgressListener.silent()));
        assertTrue(e.getMessage().startsWith(file + " is not an OCI image layout or docker archive"), e.getMessage());
    }

    @Test
    void zstdLayerMediaTypeIsRefusedBeforeUnpacking() throws Exception {
        Map<String, byte[]> files = TestImages.ociFiles(TestImages.config(), layers(), null);
        String manifestName = files.keySet().stream()
                .filter(k -> new String(files.get(k), StandardCharsets.ISO_8859_1).contains("\"layers\":[")).findFirst().orElseThrow();
        String manifest = new String(files.remove(manifestName), StandardCharsets.ISO_8859_1).replace("tar+gzip", "tar+zstd");
        JsonObject d = TestImages.blob(files, "application/vnd.oci.image.manifest.v1+json", manifest.getBytes(StandardCharsets.ISO_8859_1));
        files.put("index.json", TestImages.bytes(TestImages.index(d)));
        Path dir = TestImages.writeDirectory(tmp.resolve("img"), files);
        ImageException e = assertThrows(ImageException.class, () -> new ImageStore(cache()).resolve(dir.toString(), ProgressListener.silent()));
        assertTrue(e.getMessage().matches("layer sha256:[0-9a-f]{64} is compressed with zstd, which kava cannot unpack yet"), e.getMessage());
    }

    @Test
    void crashLeftoversAreIgnoredAndCleanedUp() throws Exception {
        Path dir = TestImages.ociDirectory(tmp.resolve("img"), TestImages.config(), layers());
        String[] digest = new String[1];
        TestImages.ociFiles(TestImages.config(), layers(), digest);
        Path leftover = Files.createDirectories(cache().resolve("images/.tmp-" + digest[0].substring(7) + "-crashed/rootfs"));
        Image image = new ImageStore(cache()).resolve(dir.toString(), ProgressListener.silent());
        assertUnpacked(image);
        assertFalse(Files.exists(leftover));
    }

    @Test
    void listsAndRemovesImages() throws Exception {
        ImageStore store = new ImageStore(cache());
        Image a = store.resolve(TestImages.ociDirectory(tmp.resolve("a"), TestImages.config(), layers()).toString(), null);
        Image b = store.resolve(TestImages.dockerArchive(tmp.resolve("b.tar"), TestImages.config(), layers()).toString(), null);
        List<Image> listed = store.list();
        assertEquals(2, listed.size());
        assertTrue(listed.contains(a) && listed.contains(b), listed.toString());
        store.remove(a.digest());
        assertEquals(List.of(b), store.list());
        assertFalse(Files.exists(a.rootfs()));
        store.remove(a.digest());  // already gone: no-op
        store.remove(b.digest().substring(7));
        assertEquals(List.of(), images());
    }

    /** Entries of cache/images, hidden temporaries included. */
    private List<String> images() throws Exception {
        Path images = cache().resolve("images");
        if (!Files.exists(images)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(images)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
