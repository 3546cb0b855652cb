package dev.kava.cli;

import dev.kava.runtime.config.ConfigLoader;
import dev.kava.runtime.config.KavaConfig;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --config FILE}, shared by the commands that read the configuration. */
final class ConfigOption {
    @Option(names = "--config", paramLabel = "FILE",
            description = "configuration file (default: /etc/kava/configuration.toml when it exists)")
    Path file;

    KavaConfig load() {
        return ConfigLoader.load(file);
    }
}
