package dev.kava.runtime.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlParseResult;
import org.tomlj.TomlTable;

/**
 * Reads {@link KavaConfig} from TOML. Unknown tables and keys are errors (a typo must not silently
 * fall back to a default), and so are values of the wrong type or out of range.
 */
public final class ConfigLoader {
    private static final Map<String, Set<String>> KEYS = Map.of(
            "hypervisor", Set.of("name", "vcpus", "memory_mib", "kernel", "image", "kernel_params",
                    "debug_console", "boot_timeout_seconds", "shared_fs", "virtio_fs_cache"),
            "agent", Set.of("dial_timeout_seconds", "request_timeout_seconds"),
            "runtime", Set.of("handler", "state_dir", "cache_dir", "stop_timeout_seconds"));

    private ConfigLoader() {}

    /**
     * Loads the configuration: {@code explicit} when given (it must exist), else the default file when it
     * exists, else the defaults. {@code KAVA_CACHE} in the environment moves the cache directory.
     */
    public static KavaConfig load(Path explicit) {
        Path cache = System.getenv("KAVA_CACHE") != null ? Path.of(System.getenv("KAVA_CACHE")) : KavaConfig.DEFAULT_CACHE;
        Path file = explicit;
        if (file == null) {
            file = System.getenv("KAVA_CONFIG") != null ? Path.of(System.getenv("KAVA_CONFIG")) : KavaConfig.DEFAULT_FILE;
            if (!Files.exists(file)) {
                return KavaConfig.defaults(cache);
            }
        }
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("configuration file " + file + " does not exist");
        }
        try {
            return parse(Files.readString(file), file, cache);
        } catch (IOException e) {
            throw new ConfigException("cannot read " + file + ": " + e.getMessage());
        }
    }

    /** Parses TOML text; {@code file} only names the source in messages. */
    public static KavaConfig parse(String toml, Path file, Path defaultCache) {
        TomlParseResult r = Toml.parse(toml);
        if (r.hasErrors()) {
            throw new ConfigException(file + ": " + r.errors().getFirst().toString());
        }
        for (String table : r.keySet()) {
            if (!KEYS.containsKey(table) || !r.isTable(table)) {
                throw new ConfigException(file + ": unknown table or key '" + table + "' (known tables: hypervisor, agent, runtime)");
            }
            for (String key : r.getTable(table).keySet()) {
                if (!KEYS.get(table).contains(key)) {
                    throw new ConfigException(file + ": unknown key '" + table + "." + key + "'");
                }
            }
        }
        Reader in = new Reader(r, file);
        Path cache = in.path("runtime.cache_dir", defaultCache);
        KavaConfig d = KavaConfig.defaults(cache);
        var h = d.hypervisor();
        var hyp = new KavaConfig.Hypervisor(
                in.string("hypervisor.name", h.name(), Set.of("auto", "qemu", "builtin")),
                (int) in.integer("hypervisor.vcpus", h.vcpus(), 1, 64),
                (int) in.integer("hypervisor.memory_mib", h.memoryMiB(), 128, 1 << 20),
                in.path("hypervisor.kernel", h.kernel()),
                in.path("hypervisor.image", h.image()),
                in.stringList("hypervisor.kernel_params", h.kernelParams()),
                in.bool("hypervisor.debug_console", h.debugConsole()),
                in.seconds("hypervisor.boot_timeout_seconds", h.bootTimeout()),
                in.choice("hypervisor.shared_fs", h.sharedFs(), KavaConfig.SharedFs.values(), KavaConfig.SharedFs::key),
                in.choice("hypervisor.virtio_fs_cache", h.virtioFsCache(), KavaConfig.VirtioFsCache.values(),
                        KavaConfig.VirtioFsCache::key));
        var a = d.agent();
        var agent = new KavaConfig.Agent(
                in.seconds("agent.dial_timeout_seconds", a.dialTimeout()),
                in.seconds("agent.request_timeout_seconds", a.requestTimeout()));
        var rt = d.runtime();
        var runtime = new KavaConfig.Runtime(
                in.string("runtime.handler", rt.handler(), Set.of("virt")),
                in.path("runtime.state_dir", rt.stateDir()),
                cache,
                in.seconds("runtime.stop_timeout_seconds", rt.stopTimeout()));
        return new KavaConfig(file, hyp, agent, runtime);
    }

    private record Reader(TomlTable t, Path file) {
        private ConfigException bad(String key, String what) {
            return new ConfigException(file + ": " + key + " " + what);
        }

        String string(String key, String dflt, Set<String> allowed) {
            if (!t.contains(key)) return dflt;
            if (!t.isString(key)) throw bad(key, "must be a string");
            String v = t.getString(key);
            if (!allowed.contains(v)) throw bad(key, "must be one of " + allowed + ", not \"" + v + "\"");
            return v;
        }

        /** One of {@code values}, by the name {@code key} gives it in the file. */
        <E> E choice(String key, E dflt, E[] values, java.util.function.Function<E, String> name) {
            if (!t.contains(key)) return dflt;
            List<String> names = java.util.Arrays.stream(values).map(name).toList();
            if (!t.isString(key)) throw bad(key, "must be a string, one of " + quoted(names));
            String v = t.getString(key);
            for (E e : values) {
                if (name.apply(e).equals(v)) return e;
            }
            throw bad(key, "must be one of " + quoted(names) + ", not \"" + v + "\"");
        }

        private static String quoted(List<String> names) {
            return String.join(", ", names.stream().map(n -> "\"" + n + "\"").toList());
        }

        long integer(String key, long dflt, long min, long max) {
            if (!t.contains(key)) return dflt;
            if (!t.isLong(key)) throw bad(key, "must be an integer");
            long v = t.getLong(key);
            if (v < min || v > max) throw bad(key, "must be between " + min + " and " + max + ", not " + v);
            return v;
        }

        boolean bool(String key, boolean dflt) {
            if (!t.contains(key)) return dflt;
            if (!t.isBoolean(key)) throw bad(key, "must be true or false");
            return t.getBoolean(key);
        }

        Path path(String key, Path dflt) {
            if (!t.contains(key)) return dflt;
            if (!t.isString(key)) throw bad(key, "must be a string");
            String v = t.getString(key);
            if (v.isEmpty()) return dflt;
            Path p = Path.of(v);
            if (!p.isAbsolute()) throw bad(key, "must be an absolute path, not \"" + v + "\"");
            return p;
        }

        Duration seconds(String key, Duration dflt) {
            return Duration.ofSeconds(integer(key, dflt.toSeconds(), 1, 3600));
        }

        List<String> stringList(String key, List<String> dflt) {
            if (!t.contains(key)) return dflt;
            if (t.isString(key)) {
                String s = t.getString(key).strip();
                return s.isEmpty() ? List.of() : List.of(s.split("\\s+"));
            }
            if (!t.isArray(key)) throw bad(key, "must be a string or an array of strings");
            TomlArray arr = t.getArray(key);
            List<String> out = new ArrayList<>();
            for (int i = 0; i < arr.size(); i++) {
                if (!(arr.get(i) instanceof String s)) throw bad(key, "must hold only strings");
                out.add(s);
            }
            return List.copyOf(out);
        }
    }
}
