package dev.kava.cli;

import dev.kava.runtime.config.KavaConfig;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code kava env}: the effective configuration, as TOML. */
@Command(name = "env", description = "Print the effective configuration (defaults plus the configuration file).")
final class EnvCommand implements Callable<Integer> {
    @Mixin
    ConfigOption config;

    @Override
    public Integer call() {
        KavaConfig c = config.load();
        var h = c.hypervisor();
        var o = System.out;
        o.println("# source: " + (c.source() != null ? c.source() : "built-in defaults (no " + KavaConfig.DEFAULT_FILE + ")"));
        o.println("[hypervisor]");
        o.println("name = \"" + h.name() + "\"");
        o.println("vcpus = " + h.vcpus());
        o.println("memory_mib = " + h.memoryMiB());
        o.println("kernel = \"" + h.kernel() + "\"");
        o.println("image = \"" + h.image() + "\"");
        o.println("kernel_params = [" + String.join(", ", h.kernelParams().stream().map(s -> "\"" + s + "\"").toList()) + "]");
        o.println("debug_console = " + h.debugConsole());
        o.println("boot_timeout_seconds = " + h.bootTimeout().toSeconds());
        o.println("shared_fs = \"" + h.sharedFs().key() + "\"");
        o.println("virtio_fs_cache = \"" + h.virtioFsCache().key() + "\"");
        o.println();
        o.println("[agent]");
        o.println("dial_timeout_seconds = " + c.agent().dialTimeout().toSeconds());
        o.println("request_timeout_seconds = " + c.agent().requestTimeout().toSeconds());
        o.println();
        o.println("[runtime]");
        o.println("handler = \"" + c.runtime().handler() + "\"");
        o.println("state_dir = \"" + c.runtime().stateDir() + "\"");
        o.println("cache_dir = \"" + c.runtime().cacheDir() + "\"");
        o.println("stop_timeout_seconds = " + c.runtime().stopTimeout().toSeconds());
        return 0;
    }
}
