package dev.kava.hypervisor.qemu;

import java.nio.file.Path;
import java.util.List;

/**
 * The files a QEMU VM creates under its sandbox's state directory (and the sockets of its
 * virtio-fs shares, which kava's backend creates). All of them are removed by {@code close()}; the
 * console log named in the {@code VmConfig} belongs to the caller and stays.
 */
record StateFiles(Path qmpSocket, Path agentSocket, Path pidFile, Path qemuLog) {

    /** sun_path is 108 bytes including the terminating NUL. */
    static final int MAX_SOCKET_PATH = 107;

    static StateFiles in(Path stateDir) {
        Path dir = stateDir.toAbsolutePath().normalize();
        return new StateFiles(dir.resolve("qmp.sock"), dir.resolve("agent.sock"), dir.resolve("qemu.pid"),
                dir.resolve("qemu.log"));
    }

    List<Path> all() {
        return List.of(qmpSocket, agentSocket, pidFile, qemuLog);
    }

    /** The vhost-user socket of the virtio-fs share {@code tag}, where kava's backend listens. */
    Path virtioFsSocket(String tag) {
        return qmpSocket.resolveSibling("vfs-" + tag + ".sock");
    }
}
