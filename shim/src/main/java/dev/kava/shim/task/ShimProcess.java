package dev.kava.shim.task;

import dev.kava.api.containerd.types.task.Status;
import dev.kava.shim.io.ProcessIo;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A task's process as containerd sees it: the init process of a container (exec id "") or an exec.
 * {@link #lock} orders its events: Start publishes TaskStart (or TaskExecStarted) while holding it and
 * the exit watcher takes it before publishing TaskExit, so an exit never overtakes its start.
 */
final class ShimProcess {
    final String containerId;
    /** containerd's exec id; empty for the init process. */
    final String execId;
    /** The id the agent knows the process by. */
    final String agentExecId;
    final ProcessIo.Paths paths;
    /** An exec's OCI Process as JSON; null for init. */
    final byte[] execSpec;
    final ReentrantLock lock = new ReentrantLock();
    final CompletableFuture<Void> exited = new CompletableFuture<>();
    volatile Status status = Status.CREATED;
    volatile int pid;
    volatile int exitStatus;
    volatile Instant exitedAt;
    volatile ProcessIo io;

    ShimProcess(String containerId, String execId, String agentExecId, ProcessIo.Paths paths, byte[] execSpec) {
        this.containerId = containerId;
        this.execId = execId;
        this.agentExecId = agentExecId;
        this.paths = paths;
        this.execSpec = execSpec;
    }

    boolean isInit() {
        return execId.isEmpty();
    }

    String name() {
        return isInit() ? containerId : containerId + "/" + execId;
    }
}
