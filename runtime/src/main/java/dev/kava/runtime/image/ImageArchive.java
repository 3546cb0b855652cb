package dev.kava.runtime.image;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Reads what unpacking needs from an OCI image layout (index.json, possibly a nested index, picking
 * linux/amd64) or a docker-save archive (manifest.json), in a directory or a tar. Every blob read is
 * checked against its sha256 digest.
 */
final class ImageArchive {
    private static final Pattern SHA256 = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final int MAX_JSON = 4 << 20;
    private static final int MAX_INDEX_DEPTH = 4;

    /**
     * A layer: its name in the archive and the digest to check. OCI digests cover the blob as stored;
     * docker-save archives are checked against the config's diff_ids, which cover the uncompressed tar.
     */
    record Layer(String name, String digest, boolean digestOfUncompressed) { }

    /** @param digest names the cache entry: the manifest digest (OCI) or the config digest (docker) */
    record Manifest(String digest, byte[] configBlob, ImageConfig config, List<Layer> layers) { }

    private final ArchiveFiles files;
    private final String what;

    ImageArchive(ArchiveFiles files, String what) {
        this.files = files;
        this.what = what;
    }

    Manifest manifest() throws IOException, ImageException {
        if (files.exists("index.json")) {
            return oci();
        }
        if (files.exists("manifest.json")) {
            return docker();
        }
        throw new ImageException(what + " is not an OCI image layout or docker archive: no index.json or manifest.json");
    }

    /** Opens a layer after checking its digest (a second read; blobs are local files). */
    InputStream openVerified(Layer layer) throws IOException, ImageException {
        String actual;
        try (InputStream in = layer.digestOfUncompressed()
                ? LayerUnpacker.decompress(files.open(layer.name()), layer.digest())
                : files.open(layer.name())) {
            actual = sha256(in);
        } catch (NoSuchFileException e) {
            throw new ImageException(what + " is missing layer " + layer.name());
        }
        if (!actual.equals(layer.digest())) {
            throw new ImageException("digest mismatch for layer " + layer.name() + " of " + what
                    + ": manifest says " + layer.digest() + ", content is " + actual);
        }
        return files.open(layer.name());
    }

    private Manifest oci() throws IOException, ImageException {
        JsonObject index = json(read("index.json"), "index.json");
        for (int depth = 0; depth < MAX_INDEX_DEPTH; depth++) {
            JsonObject descriptor = pickManifest(index);
            String digest = digestOf(descriptor, "manifest");
            JsonObject doc = json(blob(digest), "manifest " + digest);
            if (doc.has("manifests")) {
                index = doc;  // a nested index (e.g. a multi-platform image saved as a whole)
                continue;
            }
            return ociManifest(digest, doc);
        }
        throw new ImageException(what + ": image indexes nested more than " + MAX_INDEX_DEPTH + " deep");
    }

    private Manifest ociManifest(String digest, JsonObject manifest) throws IOException, ImageException {
        if (!manifest.has("config") || !manifest.get("config").isJsonObject() || !manifest.has("layers")) {
            throw new ImageException(what + ": manifest " + digest + " has no config or layers");
        }
        String configDigest = digestOf(manifest.getAsJsonObject("config"), "config");
        byte[] configBlob = blob(configDigest);
        List<Layer> layers = new ArrayList<>();
        for (JsonElement e : array(manifest, "layers", "manifest " + digest)) {
            JsonObject layer = object(e, "layer");
            String layerDigest = digestOf(layer, "layer");
            String mediaType = layer.has("mediaType") ? layer.get("mediaType").getAsString() : "";
            if (mediaType.endsWith("+zstd") || mediaType.endsWith(".zstd")) {
                throw new ImageException("layer " + layerDigest + " is compressed with zstd, which kava cannot unpack yet");
            }
            if (mediaType.contains("foreign") || mediaType.contains("nondistributable")) {
                throw new ImageException("layer " + layerDigest + " is a foreign layer (" + mediaType + "), which kava cannot fetch");
            }
            layers.add(new Layer(blobName(layerDigest), layerDigest, false));
        }
        return new Manifest(digest, configBlob, ImageConfig.fromImageConfigJson(json(configBlob, "config")), layers);
    }

    private Manifest docker() throws IOException, ImageException {
        JsonElement root = parse(read("manifest.json"), "manifest.json");
        if (!root.isJsonArray() || root.getAsJsonArray().isEmpty()) {
            throw new ImageException(what + ": manifest.json lists no images");
        }
        JsonObject image = object(root.getAsJsonArray().get(0), "manifest.json entry");
        if (!image.has("Config")) {
            throw new ImageException(what + ": manifest.json has no Config");
        }
        String configName = image.get("Config").getAsString();
        byte[] configBlob = read(configName);
        JsonObject config = json(configBlob, configName);
        JsonArray layerNames = array(image, "Layers", "manifest.json");
        JsonObject rootfs = config.has("rootfs") && config.get("rootfs").isJsonObject() ? config.getAsJsonObject("rootfs") : null;
        JsonArray diffIds = rootfs == null ? new JsonArray() : array(rootfs, "diff_ids", configName);
        if (diffIds.size() != layerNames.size()) {
            throw new ImageException(what + ": config lists " + diffIds.size() + " layer digests (rootfs.diff_ids) but manifest.json lists "
                    + layerNames.size() + " layers");
        }
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < layerNames.size(); i++) {
            String diffId = diffIds.get(i).getAsString();
            checkDigest(diffId, "layer diff_id");
            layers.add(new Layer(layerNames.get(i).getAsString(), diffId, true));
        }
        return new Manifest("sha256:" + sha256Hex(configBlob), configBlob, ImageConfig.fromImageConfigJson(config), layers);
    }

    /** The only manifest of an index, or its linux/amd64 one. */
    private JsonObject pickManifest(JsonObject index) throws ImageException {
        List<JsonObject> candidates = new ArrayList<>();
        List<String> platforms = new ArrayList<>();
        for (JsonElement e : array(index, "manifests", "index")) {
            JsonObject d = object(e, "index entry");
            JsonObject platform = d.has("platform") && d.get("platform").isJsonObject() ? d.getAsJsonObject("platform") : null;
            if (platform == null) {
                candidates.add(d);
                continue;
            }
            String os = platform.has("os") ? platform.get("os").getAsString() : "";
            String arch = platform.has("architecture") ? platform.get("architecture").getAsString() : "";
            platforms.add(os + "/" + arch);
            if (os.equals("linux") && arch.equals("amd64")) {
                candidates.addFirst(d);  // an explicit match beats an entry without a platform
            }
        }
        if (candidates.isEmpty()) {
            throw new ImageException(what + " has no linux/amd64 image (it has " + String.join(", ", platforms) + ")");
        }
        return candidates.getFirst();
    }

    private byte[] blob(String digest) throws IOException, ImageException {
        byte[] data = read(blobName(digest));
        String actual = "sha256:" + sha256Hex(data);
        if (!actual.equals(digest)) {
            throw new ImageException("digest mismatch for blob " + digest + " of " + what + ": content is " + actual);
        }
        return data;
    }

    private byte[] read(String name) throws IOException, ImageException {
        try (InputStream in = files.open(name)) {
            byte[] data = in.readNBytes(MAX_JSON + 1);
            if (data.length > MAX_JSON) {
                throw new ImageException(what + ": " + name + " is larger than " + MAX_JSON + " bytes");
            }
            return data;
        } catch (NoSuchFileException e) {
            throw new ImageException(what + " is missing " + name);
        }
    }

    private static String blobName(String digest) {
        return "blobs/sha256/" + digest.substring("sha256:".length());
    }

    private String digestOf(JsonObject descriptor, String kind) throws ImageException {
        JsonElement d = descriptor.get("digest");
        if (d == null || !d.isJsonPrimitive()) {
            throw new ImageException(what + ": " + kind + " descriptor has no digest");
        }
        return checkDigest(d.getAsString(), kind);
    }

    private String checkDigest(String digest, String kind) throws ImageException {
        if (!SHA256.matcher(digest).matches()) {
            throw new ImageException(what + ": unsupported or malformed " + kind + " digest " + digest + " (kava checks sha256 only)");
        }
        return digest;
    }

    private JsonObject json(byte[] data, String name) throws ImageException {
        return object(parse(data, name), name);
    }

    private JsonElement parse(byte[] data, String name) throws ImageException {
        try {
            return JsonParser.parseString(new String(data, StandardCharsets.UTF_8));
        } catch (JsonParseException e) {
            throw new ImageException(what + ": " + name + " is not valid JSON: " + e.getMessage());
        }
    }

    private JsonObject object(JsonElement e, String name) throws ImageException {
        if (e == null || !e.isJsonObject()) {
            throw new ImageException(what + ": " + name + " is not a JSON object");
        }
        return e.getAsJsonObject();
    }

    private JsonArray array(JsonObject o, String key, String name) throws ImageException {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonArray()) {
            throw new ImageException(what + ": " + name + " has no " + key + " list");
        }
        return e.getAsJsonArray();
    }

    static String sha256(InputStream in) throws IOException {
        MessageDigest md = newSha256();
        try (DigestInputStream d = new DigestInputStream(in, md)) {
            d.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    static String sha256Hex(byte[] data) {
        return HexFormat.of().formatHex(newSha256().digest(data));
    }

    static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
