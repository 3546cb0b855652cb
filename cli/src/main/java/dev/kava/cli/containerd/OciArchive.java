package dev.kava.cli.containerd;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;

/**
 * Writes an OCI image layout as a tar: {@code oci-layout}, {@code index.json} (one manifest per image, named
 * by the {@code io.containerd.image.name} annotation) and {@code blobs/sha256/}: one gzip layer made from a
 * root filesystem with GNU tar, shared by all images, and a config and a manifest per image. The layer is
 * reproducible (sorted names, numeric owner 0, mtime 0), so the same rootfs always has the same digest.
 */
final class OciArchive {
    private static final String MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    private static final String CONFIG = "application/vnd.oci.image.config.v1+json";
    private static final String LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

    private record Blob(String digest, long size) {}

    private OciArchive() {}

    static void write(Path rootfs, List<LocalImages.ImageSpec> images, Path archive) throws IOException {
        if (!Files.isDirectory(rootfs)) {
            throw new IOException("root filesystem " + rootfs + " is not a directory");
        }
        Path staging = Files.createTempDirectory(archive.toAbsolutePath().getParent(), ".oci-");
        try {
            Files.writeString(staging.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
            Path blobs = Files.createDirectories(staging.resolve("blobs/sha256"));
            String diffId;
            Blob layer;
            Path layerFile = blobs.resolve("layer.tmp");
            MessageDigest compressed = sha256();
            MessageDigest plain = sha256();
            try (OutputStream file = Files.newOutputStream(layerFile);
                 DigestOutputStream c = new DigestOutputStream(file, compressed);
                 GZIPOutputStream gz = new GZIPOutputStream(c, 1 << 16);
                 DigestOutputStream p = new DigestOutputStream(gz, plain)) {
                tarInto(rootfs, p);
            }
            String layerDigest = HexFormat.of().formatHex(compressed.digest());
            diffId = "sha256:" + HexFormat.of().formatHex(plain.digest());
            layer = new Blob("sha256:" + layerDigest, Files.size(layerFile));
            Files.move(layerFile, blobs.resolve(layerDigest), StandardCopyOption.REPLACE_EXISTING);

            JsonArray manifests = new JsonArray();
            for (LocalImages.ImageSpec image : images) {
                Blob config = blob(blobs, configJson(image, diffId));
                Blob manifest = blob(blobs, manifestJson(config, layer));
                JsonObject entry = descriptor(MANIFEST, manifest);
                JsonObject annotations = new JsonObject();
                annotations.addProperty("io.containerd.image.name", image.reference());
                annotations.addProperty("org.opencontainers.image.ref.name", tag(image.reference()));
                entry.add("annotations", annotations);
                JsonObject platform = new JsonObject();
                platform.addProperty("architecture", "amd64");
                platform.addProperty("os", "linux");
                entry.add("platform", platform);
                manifests.add(entry);
            }
            JsonObject index = new JsonObject();
            index.addProperty("schemaVersion", 2);
            index.addProperty("mediaType", "application/vnd.oci.image.index.v1+json");
            index.add("manifests", manifests);
            Files.writeString(staging.resolve("index.json"), index.toString());

            Path tmp = archive.resolveSibling(archive.getFileName() + ".tmp");
            CommandResult r = Commands.run(List.of("tar", "--numeric-owner", "--owner=0", "--group=0", "-cf", tmp.toString(),
                    "-C", staging.toString(), "oci-layout", "index.json", "blobs"), Map.of(), null, Duration.ofMinutes(5));
            if (!r.ok()) {
                throw new IOException("cannot write " + archive + ": " + r);
            }
            Files.move(tmp, archive, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Commands.run(List.of("rm", "-rf", staging.toString()), Map.of(), null, Duration.ofMinutes(1));
        }
    }

    /** GNU tar of the rootfs to {@code out}, reproducibly. */
    private static void tarInto(Path rootfs, OutputStream out) throws IOException {
        Process p = new ProcessBuilder("tar", "--numeric-owner", "--owner=0", "--group=0", "--sort=name", "--mtime=@0",
                "-C", rootfs.toString(), "-cf", "-", ".")
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread errReader = Thread.ofVirtual().start(() -> {
            try (InputStream e = p.getErrorStream()) {
                e.transferTo(err);
            } catch (IOException ignored) {
                // tar exited
            }
        });
        try (InputStream in = p.getInputStream()) {
            in.transferTo(out);
        }
        try {
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("tar of " + rootfs + " did not finish in 5 minutes");
            }
            errReader.join();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while archiving " + rootfs, e);
        }
        if (p.exitValue() != 0) {
            throw new IOException("tar of " + rootfs + " failed (exit " + p.exitValue() + "): " + err.toString(StandardCharsets.UTF_8));
        }
    }

    private static byte[] configJson(LocalImages.ImageSpec image, String diffId) {
        JsonObject config = new JsonObject();
        if (!image.entrypoint().isEmpty()) {
            config.add("Entrypoint", array(image.entrypoint()));
        }
        config.add("Cmd", array(image.cmd()));
        config.add("Env", array(image.env()));
        config.addProperty("WorkingDir", image.workingDir());
        JsonObject rootfs = new JsonObject();
        rootfs.addProperty("type", "layers");
        rootfs.add("diff_ids", array(List.of(diffId)));
        JsonObject c = new JsonObject();
        c.addProperty("created", "1970-01-01T00:00:00Z");
        c.addProperty("architecture", "amd64");
        c.addProperty("os", "linux");
        c.add("config", config);
        c.add("rootfs", rootfs);
        return c.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] manifestJson(Blob config, Blob layer) {
        JsonObject m = new JsonObject();
        m.addProperty("schemaVersion", 2);
        m.addProperty("mediaType", MANIFEST);
        m.add("config", descriptor(CONFIG, config));
        JsonArray layers = new JsonArray();
        layers.add(descriptor(LAYER, layer));
        m.add("layers", layers);
        return m.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static JsonObject descriptor(String mediaType, Blob blob) {
        JsonObject d = new JsonObject();
        d.addProperty("mediaType", mediaType);
        d.addProperty("digest", blob.digest());
        d.addProperty("size", blob.size());
        return d;
    }

    private static Blob blob(Path blobs, byte[] content) throws IOException {
        String hex = HexFormat.of().formatHex(sha256().digest(content));
        Files.write(blobs.resolve(hex), content);
        return new Blob("sha256:" + hex, content.length);
    }

    private static JsonArray array(List<String> items) {
        JsonArray a = new JsonArray();
        items.forEach(a::add);
        return a;
    }

    /** The tag of {@code host/name:tag} ("latest" when there is none), as containerd's own export names it. */
    static String tag(String reference) {
        int slash = reference.lastIndexOf('/');
        int colon = reference.lastIndexOf(':');
        return colon > slash ? reference.substring(colon + 1) : "latest";
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
