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

    /** The {@code [hypervisor]} table. */
    public record Hypervisor(
            String name,
            int vcpus,
            int memoryMiB,
            Path kernel,
            Path image,
            List<String> kernelParams,
            boolean debugConsole,
            Duration bootTimeout) {}

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
                        List.of(), false, Duration.ofSeconds(30)),
                new Agent(Duration.ofSeconds(30), Duration.ofSeconds(30)),
                new Runtime("virt", Path.of("/run/kava"), cacheDir, Duration.ofSeconds(10)));
    }
}
