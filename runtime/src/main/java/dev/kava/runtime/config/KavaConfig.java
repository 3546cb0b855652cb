package dev.kava.runtime.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The effective configuration: defaults, overridden by {@code /etc/kava/configuration.toml} (or the
 * file given with {@code --config}). Every key is documented in {@code docs/configuration.md}.
 *
 * @param source the file the values came from, or {@code null} when only defaults apply
 */
public record KavaConfig(Path source, Hypervisor hypervisor, Agent agent, Runtime runtime) {

    /**
     * The {@code [hypervisor]} table.
     *
     * @param sharedFs      how the sandbox's shared directory reaches the guest ({@code shared_fs})
     * @param virtioFsCache how much the guest caches a virtio-fs share ({@code virtio_fs_cache})
     */
    public record Hypervisor(
            String name,
            int vcpus,
            int memoryMiB,
            Path kernel,
            Path image,
            List<String> kernelParams,
            boolean debugConsole,
            Duration bootTimeout,
            SharedFs sharedFs,
            VirtioFsCache virtioFsCache) {

        /** The same settings with another shared file system. */
        public Hypervisor withSharedFs(SharedFs fs, VirtioFsCache cache) {
            return new Hypervisor(name, vcpus, memoryMiB, kernel, image, kernelParams, debugConsole, bootTimeout, fs, cache);
        }
    }

    /** {@code hypervisor.shared_fs}: who serves the shared directory. */
    public enum SharedFs {
        /** kava's own virtio-fs server (FUSE over a vhost-user device). */
        VIRTIO_FS("virtio-fs"),
        /** QEMU's virtio-9p server. */
        NINE_P("9p");

        private final String key;

        SharedFs(String key) {
            this.key = key;
        }

        /** The value as the configuration file spells it. */
        public String key() {
            return key;
        }
    }

    /** {@code hypervisor.virtio_fs_cache}: guest caching of a virtio-fs share. */
    public enum VirtioFsCache {
        /** Every access asks the host: host changes are seen at once; no shared writable mmap. */
        NONE("none"),
        /** Metadata for 1 s, file data while the host file's size and mtime stay the same. */
        AUTO("auto"),
        /** Everything for a day: fastest, for shares only the guest changes. */
        ALWAYS("always");

        private final String key;

        VirtioFsCache(String key) {
            this.key = key;
        }

        /** The value as the configuration file spells it. */
        public String key() {
            return key;
        }
    }

    /** The {@code [agent]} table. */
    public record Agent(Duration dialTimeout, Duration requestTimeout) {}

    /** The {@code [runtime]} table. */
    public record Runtime(String handler, Path stateDir, Path cacheDir, Duration stopTimeout) {}

    public static final Path DEFAULT_FILE = Path.of("/etc/kava/configuration.toml");
    public static final Path DEFAULT_CACHE = Path.of("/var/cache/kava");

    /** The built-in defaults. {@code cacheDir} is where {@code ./kava} puts the kernel and image it builds. */
    public static KavaConfig defaults(Path cacheDir) {
        Path current = cacheDir.resolve("current");
        return new KavaConfig(
                null,
                new Hypervisor("auto", 2, 512, current.resolve("bzImage"), current.resolve("kava-guest.img"),
                        List.of(), false, Duration.ofSeconds(30), SharedFs.VIRTIO_FS, VirtioFsCache.AUTO),
                new Agent(Duration.ofSeconds(30), Duration.ofSeconds(30)),
                new Runtime("virt", Path.of("/run/kava"), cacheDir, Duration.ofSeconds(10)));
    }
}
