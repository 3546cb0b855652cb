package dev.kava.cli;

import dev.kava.runtime.host.HostChecks;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code kava check}: what this host can run and why; non-zero when kava cannot run containers here. */
@Command(name = "check", description = "Check what this host can run; exits non-zero when kava cannot run containers here.")
final class CheckCommand implements Callable<Integer> {
    @Mixin
    ConfigOption config;

    @Override
    public Integer call() {
        var checks = HostChecks.run(config.load());
        for (var c : checks) {
            System.out.printf("%-5s %-16s %s%n", c.verdict(), c.name(), c.detail());
        }
        boolean ok = HostChecks.canRun(checks);
        System.out.println(ok ? "kava can run containers on this host." : "kava cannot run containers on this host (see FAIL above).");
        return ok ? 0 : 1;
    }
}
