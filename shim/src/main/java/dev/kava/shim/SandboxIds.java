package dev.kava.shim;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Which pod a container belongs to, and the name of that pod's VM sandbox. One shim (and one VM)
 * serves a pod: a container whose {@code io.kubernetes.cri.sandbox-id} annotation names another
 * container joins that container's sandbox; any other container is a pod of its own.
 */
public final class SandboxIds {
    public static final String SANDBOX_ID_ANNOTATION = "io.kubernetes.cri.sandbox-id";
    /** containerd's identifier grammar: alphanumerics joined by single '.', '_' or '-'. */
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*");

    private SandboxIds() {}

    /** The pod key of the container in {@code bundle}: the CRI sandbox id if annotated, else {@code id}. */
    public static String podKey(Path bundle, String id) {
        try {
            JsonObject spec = JsonParser.parseString(Files.readString(bundle.resolve("config.json"), StandardCharsets.UTF_8))
                    .getAsJsonObject();
            if (spec.has("annotations") && spec.get("annotations").isJsonObject()) {
                var a = spec.getAsJsonObject("annotations").get(SANDBOX_ID_ANNOTATION);
                if (a != null && a.isJsonPrimitive() && IDENTIFIER.matcher(a.getAsString()).matches()) {
                    return a.getAsString();
                }
            }
        } catch (IOException | RuntimeException e) {
            // no or unreadable spec: the container is its own pod
        }
        return id;
    }

    /**
     * The VM sandbox's id (its state directory under /run/kava): {@code <namespace>--<key>}. "--" never
     * occurs in a containerd identifier, so the name is unambiguous; names longer than 64 characters
     * shorten the key to a hash.
     */
    public static String sandboxId(String namespace, String key) {
        String ns = namespace.isEmpty() ? "default" : namespace;
        String full = ns + "--" + key;
        if (full.length() <= 64) return full;
        if (ns.length() <= 40) {
            return ns + "--" + sha256(key).substring(0, 62 - ns.length());
        }
        return "h--" + sha256(full).substring(0, 61);
    }

    /**
     * The base name of a pod's shim socket under {@code /run/kava/shim} (the launcher computes the same):
     * {@code <namespace>--<key>}, or the first 32 hex digits of sha256("namespace/key") when that is longer
     * than 80 characters (a unix socket path has at most 107).
     */
    public static String shimSocketName(String namespace, String key) {
        String name = namespace + "--" + key;
        return name.length() <= 80 ? name : sha256(namespace + "/" + key).substring(0, 32);
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
