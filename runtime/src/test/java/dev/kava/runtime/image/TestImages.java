package dev.kava.runtime.image;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/** Test helper: writes images in the three forms kava reads, from layer tars made with {@link TarWriter}. */
final class TestImages {
    private TestImages() { }

    /** An image config blob with the given runtime config. */
    static JsonObject config(List<String> entrypoint, List<String> cmd) {
        JsonObject c = new ImageConfig(entrypoint, cmd, List.of("PATH=/bin", "A=1"), "/work", "1000:1000").toImageConfigJson();
        JsonObject rootfs = new JsonObject();
        rootfs.addProperty("type", "layers");
        JsonArray diffIds = new JsonArray();
        rootfs.add("diff_ids", diffIds);
        c.add("rootfs", rootfs);
        return c;
    }

    static JsonObject config() {
        return config(List.of(), List.of("sh"));
    }

    /** The files of an OCI image layout (name -> bytes); {@code manifestDigest[0]} receives the manifest digest. */
    static Map<String, byte[]> ociFiles(JsonObject config, List<byte[]> layers, String[] manifestDigest) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
        JsonObject cfg = config.deepCopy();
        JsonArray diffIds = new JsonArray();
        layers.forEach(l -> diffIds.add(diffId(l)));
        cfg.getAsJsonObject("rootfs").add("diff_ids", diffIds);
        byte[] configBytes = bytes(cfg);
        JsonObject manifest = new JsonObject();
        manifest.addProperty("schemaVersion", 2);
        manifest.addProperty("mediaType", "application/vnd.oci.image.manifest.v1+json");
        manifest.add("config", blob(files, "application/vnd.oci.image.config.v1+json", configBytes));
        JsonArray layerDescriptors = new JsonArray();
        for (byte[] layer : layers) {
            boolean gz = (layer[0] & 0xff) == 0x1f;
            layerDescriptors.add(blob(files, "application/vnd.oci.image.layer.v1.tar" + (gz ? "+gzip" : ""), layer));
        }
        manifest.add("layers", layerDescriptors);
        JsonObject manifestDescriptor = blob(files, "application/vnd.oci.image.manifest.v1+json", bytes(manifest));
        JsonObject platform = new JsonObject();
        platform.addProperty("os", "linux");
        platform.addProperty("architecture", "amd64");
        manifestDescriptor.add("platform", platform);
        if (manifestDigest != null) {
            manifestDigest[0] = manifestDescriptor.get("digest").getAsString();
        }
        files.put("index.json", bytes(index(manifestDescriptor)));
        return files;
    }

    static JsonObject index(JsonObject... descriptors) {
        JsonObject index = new JsonObject();
        index.addProperty("schemaVersion", 2);
        index.addProperty("mediaType", "application/vnd.oci.image.index.v1+json");
        JsonArray manifests = new JsonArray();
        for (JsonObject d : descriptors) {
            manifests.add(d);
        }
        index.add("manifests", manifests);
        return index;
    }

    /** Adds a blob and returns its descriptor. */
    static JsonObject blob(Map<String, byte[]> files, String mediaType, byte[] data) {
        String digest = "sha256:" + ImageArchive.sha256Hex(data);
        files.put("blobs/sha256/" + digest.substring(7), data);
        JsonObject d = new JsonObject();
        d.addProperty("mediaType", mediaType);
        d.addProperty("digest", digest);
        d.addProperty("size", data.length);
        return d;
    }

    static Path ociDirectory(Path dir, JsonObject config, List<byte[]> layers) throws IOException {
        return writeDirectory(dir, ociFiles(config, layers, null));
    }

    static Path ociTar(Path file, JsonObject config, List<byte[]> layers) throws IOException {
        return writeTar(file, ociFiles(config, layers, null));
    }

    /** A docker-save archive: manifest.json, the config as {@code <hex>.json}, layers as {@code <n>/layer.tar}. */
    static Map<String, byte[]> dockerFiles(JsonObject config, List<byte[]> layers) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        JsonObject cfg = config.deepCopy();
        JsonArray diffIds = new JsonArray();
        layers.forEach(l -> diffIds.add(diffId(l)));
        cfg.getAsJsonObject("rootfs").add("diff_ids", diffIds);
        byte[] configBytes = bytes(cfg);
        String configName = ImageArchive.sha256Hex(configBytes) + ".json";
        files.put(configName, configBytes);
        JsonArray layerNames = new JsonArray();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            String name = "layer" + i + "/layer.tar";
            files.put(name, layers.get(i));
            layerNames.add(name);
            names.add(name);
        }
        JsonObject entry = new JsonObject();
        entry.addProperty("Config", configName);
        JsonArray tags = new JsonArray();
        tags.add("test:latest");
        entry.add("RepoTags", tags);
        entry.add("Layers", layerNames);
        JsonArray manifest = new JsonArray();
        manifest.add(entry);
        files.put("manifest.json", manifest.toString().getBytes(StandardCharsets.UTF_8));
        return files;
    }

    static Path dockerArchive(Path file, JsonObject config, List<byte[]> layers) throws IOException {
        return writeTar(file, dockerFiles(config, layers));
    }

    static Path writeDirectory(Path dir, Map<String, byte[]> files) throws IOException {
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            Path p = dir.resolve(f.getKey());
            Files.createDirectories(p.getParent());
            Files.write(p, f.getValue());
        }
        return dir;
    }

    static Path writeTar(Path file, Map<String, byte[]> files) throws IOException {
        TarWriter tar = new TarWriter();
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            tar.entry(f.getKey(), '0', 0644, 0, 0, "", f.getValue());
        }
        Files.write(file, tar.finish());
        return file;
    }

    /** sha256 of the uncompressed layer, as docker's rootfs.diff_ids hold it. */
    static String diffId(byte[] layer) {
        try (InputStream in = (layer[0] & 0xff) == 0x1f
                ? new GZIPInputStream(new ByteArrayInputStream(layer)) : new ByteArrayInputStream(layer)) {
            return "sha256:" + ImageArchive.sha256Hex(in.readAllBytes());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static byte[] bytes(JsonObject o) {
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }
}
