package dev.kava.shim.task;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.kava.runtime.sandbox.VirtSandbox;
import dev.kava.ttrpc.Code;
import dev.kava.ttrpc.TtrpcException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The bundle's OCI spec as the guest must see it. The process (args, env, cwd, user, rlimits,
 * capabilities), namespaces, cgroups and resources pass through unchanged; what names the host is
 * rewritten:
 * <ul>
 *   <li>root.path becomes the rootfs's place in the shared directory;</li>
 *   <li>bind-mount volumes are shared into the guest and their sources rewritten; a bind of /dev/shm
 *       becomes a tmpfs in the guest (shared memory cannot work across the VM boundary);</li>
 *   <li>a network namespace given by path (a host netns) is dropped: the VM is the pod's network
 *       boundary, so the containers of a pod share the guest's network;</li>
 *   <li>hooks (host binaries), AppArmor and SELinux labels (not in the guest kernel) are dropped, with a
 *       log line each.</li>
 * </ul>
 */
final class GuestSpec {
    private static final Logger LOG = Logger.getLogger(GuestSpec.class.getName());
    private static final Gson GSON = new Gson();

    private GuestSpec() {}

    static JsonObject parse(byte[] json, String what) throws TtrpcException {
        try {
            JsonElement e = JsonParser.parseString(new String(json, StandardCharsets.UTF_8));
            if (!e.isJsonObject()) throw new TtrpcException(Code.INVALID_ARGUMENT, what + " is not a JSON object");
            return e.getAsJsonObject();
        } catch (RuntimeException e) {
            throw new TtrpcException(Code.INVALID_ARGUMENT, "invalid " + what + ": " + e.getMessage());
        }
    }

    static byte[] forGuest(JsonObject spec, String containerId, ContainerMounts mounts) throws TtrpcException {
        JsonObject s = spec.deepCopy();
        if (!s.has("process") || !s.get("process").isJsonObject()) {
            throw new TtrpcException(Code.INVALID_ARGUMENT, "invalid OCI spec: no process");
        }
        JsonObject root = s.has("root") && s.get("root").isJsonObject() ? s.getAsJsonObject("root") : new JsonObject();
        root.addProperty("path", containerId + "/rootfs");
        s.add("root", root);

        if (s.has("mounts") && s.get("mounts").isJsonArray()) {
            JsonArray out = new JsonArray();
            for (JsonElement e : s.getAsJsonArray("mounts")) {
                if (!e.isJsonObject()) throw new TtrpcException(Code.INVALID_ARGUMENT, "invalid OCI spec: a mount is not an object");
                out.add(guestMount(e.getAsJsonObject(), containerId, mounts));
            }
            s.add("mounts", out);
        }
        if (s.has("hooks")) {
            LOG.info(containerId + ": OCI hooks run host binaries; they are not run in the guest");
            s.remove("hooks");
        }
        JsonObject process = s.getAsJsonObject("process");
        if (process.has("apparmorProfile")) {
            LOG.fine(containerId + ": the guest kernel has no AppArmor; profile " + process.get("apparmorProfile") + " dropped");
            process.remove("apparmorProfile");
        }
        if (process.has("selinuxLabel")) process.remove("selinuxLabel");
        if (s.has("linux") && s.get("linux").isJsonObject()) {
            JsonObject linux = s.getAsJsonObject("linux");
            linux.remove("mountLabel");
            if (linux.has("namespaces") && linux.get("namespaces").isJsonArray()) {
                JsonArray ns = new JsonArray();
                for (JsonElement e : linux.getAsJsonArray("namespaces")) {
                    if (e.isJsonObject() && "network".equals(str(e.getAsJsonObject(), "type")) && !str(e.getAsJsonObject(), "path").isEmpty()) {
                        continue;
                    }
                    ns.add(e);
                }
                linux.add("namespaces", ns);
            }
        }
        return GSON.toJson(s).getBytes(StandardCharsets.UTF_8);
    }

    private static JsonObject guestMount(JsonObject m, String containerId, ContainerMounts mounts) throws TtrpcException {
        String type = str(m, "type");
        String dest = str(m, "destination");
        List<String> options = new ArrayList<>();
        if (m.has("options") && m.get("options").isJsonArray()) {
            for (JsonElement o : m.getAsJsonArray("options")) {
                if (o.isJsonPrimitive()) options.add(o.getAsString());
            }
        }
        boolean bind = type.equals("bind") || options.contains("bind") || options.contains("rbind");
        if (!bind) return m;
        if (dest.equals("/dev/shm")) {
            JsonObject tmpfs = new JsonObject();
            tmpfs.addProperty("destination", "/dev/shm");
            tmpfs.addProperty("type", "tmpfs");
            tmpfs.addProperty("source", "shm");
            JsonArray o = new JsonArray();
            for (String x : List.of("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")) o.add(new JsonPrimitive(x));
            tmpfs.add("options", o);
            return tmpfs;
        }
        String source = str(m, "source");
        if (!source.startsWith("/")) {
            throw new TtrpcException(Code.INVALID_ARGUMENT, "bind mount of " + dest + ": source `" + source + "` is not an absolute path");
        }
        String rel;
        try {
            rel = mounts.shareVolume(Path.of(source), options.contains("ro"));
        } catch (RuntimeException e) {
            throw new TtrpcException(Code.INVALID_ARGUMENT, "bind mount of " + dest + ": " + e.getMessage());
        }
        JsonObject g = m.deepCopy();
        g.addProperty("source", VirtSandbox.GUEST_SHARE + "/" + containerId + "/" + rel);
        return g;
    }

    private static String str(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() ? e.getAsString() : "";
    }
}
