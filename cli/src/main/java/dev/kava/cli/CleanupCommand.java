package dev.kava.cli;

import dev.kava.runtime.sandbox.SandboxCleaner;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code kava cleanup}: undo what dead kava processes left (VMs, mounts, state). */
@Command(name = "cleanup", description = "Remove sandboxes whose kava process died: kill their VM, unmount, delete state.")
final class CleanupCommand implements Callable<Integer> {
    @Mixin
    ConfigOption config;

    @Option(names = "--force", description = "also remove sandboxes whose owner is still running")
    boolean force;

    @Override
    public Integer call() {
        var stateRoot = config.load().runtime().stateDir();
        var reports = SandboxCleaner.cleanup(stateRoot, force);
        if (reports.isEmpty()) System.out.println("nothing to clean in " + stateRoot);
        for (var r : reports) {
            if (r.skipped()) {
                System.out.println(r.id() + ": kept (" + r.reason() + ")");
            } else {
                System.out.println(r.id() + ": " + String.join(", ", r.actions()));
            }
        }
        return 0;
    }
}
