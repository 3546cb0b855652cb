package dev.kava.runtime.oci;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Builds the OCI runtime spec (config.json) for a container, with the defaults a container engine
 * gives: its own pid, ipc, uts, mount, network and cgroup namespaces, Docker's default capability set,
 * no new privileges, masked and read-only kernel paths. The guest agent hands it to crun as it is,
 * except for {@code root.path}, which is relative to the sandbox's shared directory.
 */
public final class OciSpec {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /** Docker's default capabilities: what an unprivileged container process keeps. */
    public static final List<String> DEFAULT_CAPABILITIES = List.of(
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
            "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
            "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE");

    private OciSpec() {}

    /** What the caller decides about the container's process. */
    public record Process(List<String> args, List<String> env, String cwd, int uid, int gid, boolean terminal) {
        public Process {
            if (args == null || args.isEmpty()) {
                throw new IllegalArgumentException("the container needs a command: the image has no entrypoint or cmd and none was given");
            }
            args = List.copyOf(args);
            env = List.copyOf(env);
            cwd = cwd == null || cwd.isEmpty() ? "/" : cwd;
            if (!cwd.startsWith("/")) {
                throw new IllegalArgumentException("working directory must be absolute: " + cwd);
            }
        }
    }

    /**
     * A bind mount of a path the guest already has (a volume the runtime shared into the guest) at
     * {@code destination} in the container.
     */
    public record BindMount(String destination, String source, boolean readOnly) {}

    /** The whole spec for container {@code id}, whose rootfs the guest finds at {@code rootPath} (relative). */
    public static JsonObject build(String id, String rootPath, String hostname, Process p) {
        return build(id, rootPath, hostname, p, List.of());
    }

    /** {@link #build(String, String, String, Process)} with {@code binds} after the default mounts. */
    public static JsonObject build(String id, String rootPath, String hostname, Process p, List<BindMount> binds) {
        JsonObject spec = new JsonObject();
        spec.addProperty("ociVersion", "1.0.2");
        spec.add("process", process(p));
        JsonObject root = new JsonObject();
        root.addProperty("path", rootPath);
        root.addProperty("readonly", false);
        spec.add("root", root);
        spec.addProperty("hostname", hostname);
        JsonArray mounts = new JsonArray();
        mounts.add(mount("/proc", "proc", "proc", List.of("nosuid", "noexec", "nodev")));
        mounts.add(mount("/dev", "tmpfs", "tmpfs", List.of("nosuid", "strictatime", "mode=755", "size=65536k")));
        mounts.add(mount("/dev/pts", "devpts", "devpts",
                List.of("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")));
        mounts.add(mount("/dev/shm", "tmpfs", "shm", List.of("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")));
        mounts.add(mount("/dev/mqueue", "mqueue", "mqueue", List.of("nosuid", "noexec", "nodev")));
        mounts.add(mount("/sys", "sysfs", "sysfs", List.of("nosuid", "noexec", "nodev", "ro")));
        mounts.add(mount("/sys/fs/cgroup", "cgroup", "cgroup", List.of("nosuid", "noexec", "nodev", "relatime", "ro")));
        mounts.add(mount("/tmp", "tmpfs", "tmpfs", List.of("nosuid", "nodev", "mode=1777")));
        for (BindMount b : binds) {
            mounts.add(mount(b.destination(), "bind", b.source(), b.readOnly() ? List.of("rbind", "ro") : List.of("rbind")));
        }
        spec.add("mounts", mounts);
        JsonObject linux = new JsonObject();
        JsonArray ns = new JsonArray();
        for (String t : List.of("pid", "ipc", "uts", "mount", "network", "cgroup")) {
            JsonObject n = new JsonObject();
            n.addProperty("type", t);
            ns.add(n);
        }
        linux.add("namespaces", ns);
        linux.addProperty("cgroupsPath", "/kava/" + id);
        linux.add("maskedPaths", strings(List.of("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                "/sys/firmware", "/proc/scsi")));
        linux.add("readonlyPaths", strings(List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                "/proc/sysrq-trigger")));
        spec.add("linux", linux);
        return spec;
    }

    /** The process object alone, as an exec request carries it. */
    public static JsonObject process(Process p) {
        JsonObject proc = new JsonObject();
        proc.addProperty("terminal", p.terminal());
        JsonObject user = new JsonObject();
        user.addProperty("uid", p.uid());
        user.addProperty("gid", p.gid());
        proc.add("user", user);
        proc.add("args", strings(p.args()));
        proc.add("env", strings(p.env()));
        proc.addProperty("cwd", p.cwd());
        JsonObject caps = new JsonObject();
        for (String set : List.of("bounding", "effective", "permitted")) {
            caps.add(set, strings(DEFAULT_CAPABILITIES));
        }
        proc.add("capabilities", caps);
        JsonArray rlimits = new JsonArray();
        JsonObject nofile = new JsonObject();
        nofile.addProperty("type", "RLIMIT_NOFILE");
        nofile.addProperty("hard", 1048576);
        nofile.addProperty("soft", 1048576);
        rlimits.add(nofile);
        proc.add("rlimits", rlimits);
        proc.addProperty("noNewPrivileges", true);
        return proc;
    }

    public static byte[] toJson(JsonObject o) {
        return GSON.toJson(o).getBytes(StandardCharsets.UTF_8);
    }

    private static JsonObject mount(String dest, String type, String source, List<String> options) {
        JsonObject m = new JsonObject();
        m.addProperty("destination", dest);
        m.addProperty("type", type);
        m.addProperty("source", source);
        m.add("options", strings(options));
        return m;
    }

    private static JsonArray strings(List<String> values) {
        JsonArray a = new JsonArray();
        values.forEach(a::add);
        return a;
    }
}
