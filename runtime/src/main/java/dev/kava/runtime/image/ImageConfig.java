package dev.kava.runtime.image;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * The runtime part of an OCI image config ({@code config.Entrypoint}, {@code Cmd}, {@code Env},
 * {@code WorkingDir}, {@code User}). Missing lists are empty; a missing working directory is "/"; a
 * missing user is "" (root).
 */
public record ImageConfig(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir, String user) {
    public ImageConfig {
        entrypoint = entrypoint == null ? List.of() : List.copyOf(entrypoint);
        cmd = cmd == null ? List.of() : List.copyOf(cmd);
        env = env == null ? List.of() : List.copyOf(env);
        workingDir = workingDir == null || workingDir.isEmpty() ? "/" : workingDir;
        user = user == null ? "" : user;
    }

    /** Docker semantics: the entrypoint, then the user's arguments if there are any, else the image's cmd. */
    public List<String> command(List<String> userArgs) {
        List<String> command = new ArrayList<>(entrypoint);
        command.addAll(userArgs == null || userArgs.isEmpty() ? cmd : userArgs);
        return List.copyOf(command);
    }

    /** Reads the {@code config} object of an OCI / docker image config blob (absent fields allowed). */
    static ImageConfig fromImageConfigJson(JsonObject blob) throws ImageException {
        JsonObject config = blob.has("config") && blob.get("config").isJsonObject()
                ? blob.getAsJsonObject("config") : new JsonObject();
        return new ImageConfig(strings(config, "Entrypoint"), strings(config, "Cmd"), strings(config, "Env"),
                string(config, "WorkingDir"), string(config, "User"));
    }

    /** The inverse of {@link #fromImageConfigJson}, for images kava makes itself. */
    JsonObject toImageConfigJson() {
        JsonObject config = new JsonObject();
        config.add("Entrypoint", array(entrypoint));
        config.add("Cmd", array(cmd));
        config.add("Env", array(env));
        config.addProperty("WorkingDir", workingDir);
        config.addProperty("User", user);
        JsonObject blob = new JsonObject();
        blob.addProperty("architecture", "amd64");
        blob.addProperty("os", "linux");
        blob.add("config", config);
        return blob;
    }

    private static JsonArray array(List<String> values) {
        JsonArray array = new JsonArray();
        values.forEach(array::add);
        return array;
    }

    private static List<String> strings(JsonObject o, String key) throws ImageException {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return List.of();
        }
        if (!e.isJsonArray()) {
            throw new ImageException("image config field " + key + " is not a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonElement item : e.getAsJsonArray()) {
            if (!item.isJsonPrimitive() || !item.getAsJsonPrimitive().isString()) {
                throw new ImageException("image config field " + key + " is not a list of strings");
            }
            out.add(item.getAsString());
        }
        return out;
    }

    private static String string(JsonObject o, String key) throws ImageException {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new ImageException("image config field " + key + " is not a string");
        }
        return e.getAsString();
    }
}
