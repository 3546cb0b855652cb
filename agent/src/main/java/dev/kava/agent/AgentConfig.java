package dev.kava.agent;

import java.nio.file.Path;

/**
 * Where things are in the guest. {@code stateDir} holds bundles ({@code containers/<id>}) and is
 * the only tree CopyFile may write to; {@code sharedDir} is where the host's shared filesystem
 * is mounted and where root.path is resolved.
 */
public record AgentConfig(Path crun, Path crunRoot, Path stateDir, Path sharedDir, Path cgroupRoot) {

    /** The guest's layout: crun at /usr/bin/crun, state under /run/kava, crun's own under /run/crun. */
    public static AgentConfig guest() {
        return of(Path.of("/usr/bin/crun"), Path.of("/run/kava"), Path.of("/run/kava/shared"));
    }

    /** A layout under {@code stateDir}; crun's own state in {@code <stateDir>/crun}
     * (in the guest: /run/crun). */
    public static AgentConfig of(Path crun, Path stateDir, Path sharedDir) {
        Path state = stateDir.toAbsolutePath().normalize();
        Path crunRoot = state.equals(Path.of("/run/kava")) ? Path.of("/run/crun") : state.resolve("crun");
        return new AgentConfig(crun, crunRoot, state, sharedDir.toAbsolutePath().normalize(),
                Path.of("/sys/fs/cgroup"));
    }

    /** The bundle directory of a container. */
    public Path bundle(String containerId) {
        return stateDir.resolve("containers").resolve(containerId);
    }
}
