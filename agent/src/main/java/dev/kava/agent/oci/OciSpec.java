package dev.kava.agent.oci;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.kava.agent.AgentErrors;
import dev.kava.ttrpc.TtrpcException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An OCI runtime spec (config.json) received from the host: validated on parse, then rewritten
 * in the few places the agent owns. Every refusal is an INVALID_ARGUMENT naming the field.
 */
public final class OciSpec {
    private final JsonObject json;

    private OciSpec(JsonObject json) {
        this.json = json;
    }

    /** Parses and validates a whole runtime spec. */
    public static OciSpec parse(byte[] bytes) throws TtrpcException {
        JsonObject root = parseObject(bytes, "OCI spec");
        optionalString(root, "ociVersion", "ociVersion");
        optionalString(root, "hostname", "hostname");
        JsonObject process = requiredObject(root, "process", "process");
        validateProcess(process, "process.");
        JsonObject r = requiredObject(root, "root", "root");
        String path = requiredString(r, "path", "root.path");
        if (path.isEmpty()) {
            throw AgentErrors.invalid("invalid OCI spec: root.path is empty");
        }
        JsonElement readonly = r.get("readonly");
        if (readonly != null && !isBoolean(readonly)) {
            throw AgentErrors.invalid("invalid OCI spec: root.readonly must be a boolean");
        }
        JsonElement mounts = root.get("mounts");
        if (mounts != null && !mounts.isJsonNull()) {
            if (!mounts.isJsonArray()) {
                throw AgentErrors.invalid("invalid OCI spec: mounts must be an array");
            }
            int i = 0;
            for (JsonElement m : mounts.getAsJsonArray()) {
                if (!m.isJsonObject()) {
                    throw AgentErrors.invalid("invalid OCI spec: mounts[" + i + "] must be an object");
                }
                String dest = requiredString(m.getAsJsonObject(), "destination", "mounts[" + i + "].destination");
                if (!dest.startsWith("/")) {
                    throw AgentErrors.invalid("invalid OCI spec: mounts[" + i + "].destination `" + dest
                            + "` is not an absolute path");
                }
                i++;
            }
        }
        JsonElement linux = root.get("linux");
        if (linux != null && !linux.isJsonNull()) {
            if (!linux.isJsonObject()) {
                throw AgentErrors.invalid("invalid OCI spec: linux must be an object");
            }
            optionalString(linux.getAsJsonObject(), "cgroupsPath", "linux.cgroupsPath");
        }
        return new OciSpec(root);
    }

    /**
     * Parses and validates an OCI Process (the body of ExecProcess). Fills {@code cwd} with "/"
     * when it is missing, as crun requires one.
     */
    public static JsonObject parseProcess(byte[] bytes) throws TtrpcException {
        JsonObject process = parseObject(bytes, "OCI process");
        validateProcess(process, "");
        if (!process.has("cwd")) {
            process.addProperty("cwd", "/");
        }
        return process;
    }

    /** Parses a JSON object such as LinuxResources; INVALID_ARGUMENT if it is not one. */
    public static JsonObject parseObject(byte[] bytes, String what) throws TtrpcException {
        if (bytes == null || bytes.length == 0) {
            throw AgentErrors.invalid("invalid " + what + ": empty");
        }
        JsonElement e;
        try {
            e = JsonParser.parseString(new String(bytes, StandardCharsets.UTF_8));
        } catch (JsonParseException | IllegalStateException ex) {
            Throwable c = ex.getCause() != null ? ex.getCause() : ex;
            throw AgentErrors.invalid("invalid " + what + ": malformed JSON: " + c.getMessage());
        }
        if (!e.isJsonObject()) {
            throw AgentErrors.invalid("invalid " + what + ": not a JSON object");
        }
        return e.getAsJsonObject();
    }

    private static void validateProcess(JsonObject process, String prefix) throws TtrpcException {
        JsonElement args = process.get("args");
        if (args == null || args.isJsonNull()) {
            throw AgentErrors.invalid("invalid OCI spec: " + prefix + "args is missing");
        }
        if (!args.isJsonArray() || args.getAsJsonArray().isEmpty()) {
            throw AgentErrors.invalid("invalid OCI spec: " + prefix + "args must be a non-empty array");
        }
        for (JsonElement a : args.getAsJsonArray()) {
            if (!isString(a)) {
                throw AgentErrors.invalid("invalid OCI spec: " + prefix + "args must hold only strings");
            }
        }
        if (args.getAsJsonArray().get(0).getAsString().isEmpty()) {
            throw AgentErrors.invalid("invalid OCI spec: " + prefix + "args[0] is empty");
        }
        JsonElement env = process.get("env");
        if (env != null && !env.isJsonNull()) {
            if (!env.isJsonArray()) {
                throw AgentErrors.invalid("invalid OCI spec: " + prefix + "env must be an array");
            }
            for (JsonElement v : env.getAsJsonArray()) {
                if (!isString(v)) {
                    throw AgentErrors.invalid("invalid OCI spec: " + prefix + "env must hold only strings");
                }
            }
        }
        String cwd = optionalString(process, "cwd", prefix + "cwd");
        if (cwd != null && !cwd.startsWith("/")) {
            throw AgentErrors.invalid("invalid OCI spec: " + prefix + "cwd `" + cwd + "` is not an absolute path");
        }
        JsonElement terminal = process.get("terminal");
        if (terminal != null && !terminal.isJsonNull() && !isBoolean(terminal)) {
            throw AgentErrors.invalid("invalid OCI spec: " + prefix + "terminal must be a boolean");
        }
    }

    /** Whether the init process wants a terminal (process.terminal). */
    public boolean terminal() {
        return terminal(json.getAsJsonObject("process"));
    }

    /** Whether an OCI Process wants a terminal. */
    public static boolean terminal(JsonObject process) {
        JsonElement t = process.get("terminal");
        return t != null && isBoolean(t) && t.getAsBoolean();
    }

    /** process.args[0]. */
    public String executable() {
        return json.getAsJsonObject("process").getAsJsonArray("args").get(0).getAsString();
    }

    /** root.path as the host sent it. */
    public String rootPath() {
        return json.getAsJsonObject("root").get("path").getAsString();
    }

    /**
     * Resolves root.path under the shared directory and checks it: relative, no {@code ..}, no
     * symbolic link leading outside, an existing directory. Returns the absolute path.
     */
    public Path resolveRoot(Path sharedDir) throws TtrpcException {
        return resolveUnder(sharedDir, rootPath(), "root.path");
    }

    /** The checks of {@link #resolveRoot} for any path the host names under a directory. */
    public static Path resolveUnder(Path dir, String relative, String what) throws TtrpcException {
        if (relative.startsWith("/")) {
            throw AgentErrors.invalid(what + " `" + relative
                    + "` must be relative to the sandbox's shared directory");
        }
        if (relative.indexOf('\0') >= 0) {
            throw AgentErrors.invalid(what + " holds a NUL character");
        }
        for (String part : relative.split("/")) {
            if (part.equals("..")) {
                throw AgentErrors.invalid(what + " `" + relative + "` must not contain `..`");
            }
        }
        Path base = dir.toAbsolutePath().normalize();
        Path resolved = base.resolve(relative).normalize();
        if (!resolved.startsWith(base) || resolved.equals(base)) {
            throw AgentErrors.invalid(what + " `" + relative + "` is outside the shared directory");
        }
        if (!Files.isDirectory(resolved)) {
            throw AgentErrors.invalid(what + " `" + relative + "` does not exist in the shared directory "
                    + base);
        }
        try {
            Path real = resolved.toRealPath();
            if (!real.startsWith(base.toRealPath())) {
                throw AgentErrors.invalid(what + " `" + relative
                        + "` leads outside the shared directory through a symbolic link");
            }
            return real;
        } catch (IOException e) {
            throw AgentErrors.invalid(what + " `" + relative + "`: " + e.getMessage());
        }
    }

    /** Sets root.path (to the resolved absolute path). */
    public void setRootPath(Path absolute) {
        json.getAsJsonObject("root").addProperty("path", absolute.toString());
    }

    /** linux.cgroupsPath, set to {@code fallback} first if the spec has none. */
    public String cgroupsPathOrDefault(String fallback) {
        JsonObject linux = json.getAsJsonObject("linux");
        if (linux == null || json.get("linux").isJsonNull()) {
            linux = new JsonObject();
            json.add("linux", linux);
        }
        JsonElement p = linux.get("cgroupsPath");
        if (p == null || p.isJsonNull() || p.getAsString().isEmpty()) {
            linux.addProperty("cgroupsPath", fallback);
            return fallback;
        }
        return p.getAsString();
    }

    /** The spec as JSON bytes, ready to be written as config.json. */
    public byte[] toJson() {
        return json.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The JSON tree (mutable). */
    public JsonObject json() {
        return json;
    }

    private static JsonObject requiredObject(JsonObject o, String key, String what) throws TtrpcException {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            throw AgentErrors.invalid("invalid OCI spec: " + what + " is missing");
        }
        if (!e.isJsonObject()) {
            throw AgentErrors.invalid("invalid OCI spec: " + what + " must be an object");
        }
        return e.getAsJsonObject();
    }

    private static String requiredString(JsonObject o, String key, String what) throws TtrpcException {
        String s = optionalString(o, key, what);
        if (s == null) {
            throw AgentErrors.invalid("invalid OCI spec: " + what + " is missing");
        }
        return s;
    }

    private static String optionalString(JsonObject o, String key, String what) throws TtrpcException {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!isString(e)) {
            throw AgentErrors.invalid("invalid OCI spec: " + what + " must be a string");
        }
        return e.getAsString();
    }

    private static boolean isString(JsonElement e) {
        return e instanceof JsonPrimitive p && p.isString();
    }

    private static boolean isBoolean(JsonElement e) {
        return e instanceof JsonPrimitive p && p.isBoolean();
    }
}
