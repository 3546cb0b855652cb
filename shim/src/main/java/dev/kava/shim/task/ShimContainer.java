package dev.kava.shim.task;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A container of the pod: its bundle, its host mounts, its init process and its execs. */
final class ShimContainer {
    final String id;
    final Path bundle;
    final ContainerMounts mounts;
    final ShimProcess init;
    final Map<String, ShimProcess> execs = new ConcurrentHashMap<>();

    ShimContainer(String id, Path bundle, ContainerMounts mounts, ShimProcess init) {
        this.id = id;
        this.bundle = bundle;
        this.mounts = mounts;
        this.init = init;
    }
}
