package dev.kava.agent.container;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/** A container the agent created: its bundle, cgroup, init process and execs. */
final class Container {
    enum Status { CREATED, RUNNING, PAUSED, STOPPED }

    final String id;
    final Path bundle;
    final String cgroupsPath;
    final ContainerProcess init;
    final Map<String, ContainerProcess> execs = new ConcurrentHashMap<>();
    final List<String> mounts;
    /** Serializes lifecycle operations (start, pause, remove, ...). */
    final ReentrantLock lock = new ReentrantLock();
    /** Whether crun knows this container (false for one whose create failed). */
    final boolean created;
    volatile Status status;
    /** The memory.events oom_kill count already reported by GetOOMEvent. */
    volatile long oomReported;

    Container(String id, Path bundle, String cgroupsPath, ContainerProcess init, List<String> mounts,
            boolean created) {
        this.id = id;
        this.bundle = bundle;
        this.cgroupsPath = cgroupsPath;
        this.init = init;
        this.mounts = mounts;
        this.created = created;
        this.status = created ? Status.CREATED : Status.STOPPED;
    }

    /** The process named by an exec id; empty (or the init's id) means the init. */
    ContainerProcess process(String execId) {
        if (execId == null || execId.isEmpty() || execId.equals(init.execId)) {
            return init;
        }
        return execs.get(execId);
    }
}
