package dev.kava.hypervisor;

import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;

/**
 * The VM of one sandbox. Lifecycle: {@link #prepare} once, {@link #addDevice} any number of times,
 * {@link #start} once, then {@link #pause}/{@link #resume}, {@link #stop}, and always {@link #close}.
 * Methods are thread-safe. Every failure is a {@link HypervisorException}.
 */
public interface Hypervisor extends AutoCloseable {

    /** Fixes the VM's shape. Checks what can be checked without launching (files exist, paths fit). */
    void prepare(VmConfig config);

    /** Adds a device; only between {@link #prepare} and {@link #start}. */
    void addDevice(Device device);

    /**
     * Launches the VM and returns once its process runs and its control channel answers. This does
     * not wait for the guest to boot: the guest agent announces itself over {@link #agentEndpoint()}.
     *
     * @throws HypervisorException if the VM process dies or does not answer within
     *         {@code bootTimeout}; the message names the cause and carries the tail of the VMM's and
     *         the console's logs. Nothing is left running.
     */
    void start(Duration bootTimeout);

    /** Freezes the guest's vCPUs. */
    void pause();

    /** Lets a paused guest run again. */
    void resume();

    /**
     * Ends the VM: asks the VMM to exit, then SIGTERM, then SIGKILL once {@code grace} has passed;
     * returns when the process is gone. A no-op when not running.
     */
    void stop(Duration grace);

    /** The VM process is alive. */
    boolean isRunning();

    /**
     * Completes with the VM process's exit code when it exits, for whatever reason (the guest
     * rebooted or crashed, {@link #stop}, a signal). Never completes if the VM was never started.
     */
    CompletableFuture<Integer> exited();

    /** Where the host reaches the guest agent; known after {@link #prepare}. */
    AgentEndpoint agentEndpoint();

    /** The VM process id while it has been started. */
    OptionalLong pid();

    /** The thread ids of the VM process (from {@code /proc/<pid>/task}); empty when not running. */
    List<Long> threadIds();

    /** What this hypervisor can do on this host. */
    Capabilities capabilities();

    /**
     * Stops the VM if it runs and removes every socket and pid file this hypervisor created.
     * Idempotent; safe after a failed {@link #prepare} or {@link #start}.
     */
    @Override
    void close();
}
