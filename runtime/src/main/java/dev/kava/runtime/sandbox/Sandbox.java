package dev.kava.runtime.sandbox;

import dev.kava.runtime.container.Container;
import dev.kava.runtime.container.ContainerConfig;

/** A group of containers sharing one isolation boundary (a VM for the "virt" handler). */
public interface Sandbox extends AutoCloseable {
    String id();

    /** Sets up host resources, boots the VM and waits for the agent. On failure, nothing is left behind. */
    void start();

    Container createContainer(ContainerConfig config);

    /** When things happened, for benchmarks and diagnostics. */
    Timeline timeline();

    /** Facts about the running sandbox for reports: pids, RSS, guest memory. */
    SandboxFigures figures();

    /** Stops every container and the VM, undoes every host resource. Idempotent. */
    @Override
    void close();
}
