package dev.kava.hypervisor.qemu;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.linux.LinuxException;
import dev.kava.linux.Processes;
import dev.kava.virtio.fs.DescriptorBudget;
import dev.kava.virtio.fs.FsConfig;
import dev.kava.virtio.fs.FuseServer;
import dev.kava.virtio.fs.VirtioFsDevice;
import dev.kava.virtio.vhostuser.VhostUserBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One virtio-fs share served from this process to QEMU's {@code vhost-user-fs-device}: a
 * {@link FuseServer} on the host directory, a {@link VirtioFsDevice} around it and a
 * {@link VhostUserBackend} listening on a socket in the sandbox's state directory. Started before
 * QEMU (QEMU connects as the client at launch), closed after QEMU is gone; closing leaves no
 * descriptor, thread, mapping or socket.
 */
final class VirtioFsShare implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VirtioFsShare.class.getName());

    /**
     * Worker threads per share. Measured with {@code kava bench fs} on 2 cores under TCG; see
     * docs/virtio-fs.md. {@code -Dkava.virtiofs.workers=N} overrides it (for measurements).
     */
    static final int WORKERS = Integer.getInteger("kava.virtiofs.workers", 2);
    /**
     * The largest READ/WRITE payload, advertised as max_write/max_pages. Measured with
     * {@code kava bench fs}; {@code -Dkava.virtiofs.maxWriteKiB=N} overrides it (for measurements).
     */
    static final int MAX_WRITE = Integer.getInteger("kava.virtiofs.maxWriteKiB", 1024) * 1024;
    /** The virtqueue size QEMU is given (its default, 128, limits requests in flight). */
    static final int QUEUE_SIZE = 1024;
    /** Descriptors kept free for everything else the process does. */
    private static final int RESERVED_FDS = 2048;
    /**
     * Inodes a guest may hold per share (each one host O_PATH descriptor; a guest holds what its
     * dentry cache holds, so a small cap is ENFILE for a big tree) and files it may hold open. Their
     * sum bounds the host kernel memory a hostile guest can pin (~1 KiB each).
     */
    static final int MAX_INODES = 131_072;
    static final int MAX_HANDLES = 8_192;

    private final Device.SharedFs share;
    private final FuseServer server;
    private final VirtioFsDevice device;
    private final VhostUserBackend backend;

    private VirtioFsShare(Device.SharedFs share, FuseServer server, VirtioFsDevice device, VhostUserBackend backend) {
        this.share = share;
        this.server = server;
        this.device = device;
        this.backend = backend;
    }

    /**
     * Serves {@code share} on {@code socket}, which must not exist. The descriptors the guest can
     * make the server hold are capped per share ({@link #MAX_INODES}, {@link #MAX_HANDLES}) and,
     * for all shares of this process together, by the process's RLIMIT_NOFILE less a reserve.
     */
    static VirtioFsShare start(Device.SharedFs share, Path socket) {
        FsConfig config = FsConfig.of(share.hostPath().toAbsolutePath())
                .withCache(share.cache().serverMode()).withMaxWrite(MAX_WRITE);
        config = config.withLimits(MAX_INODES, MAX_HANDLES).withBudget(processBudget());
        FuseServer server;
        try {
            server = new FuseServer(config);
        } catch (LinuxException | IllegalArgumentException e) {
            throw new HypervisorException("virtio-fs share '" + share.tag() + "': cannot open " + share.hostPath()
                    + ": " + e.getMessage(), e);
        }
        VirtioFsDevice device = null;
        try {
            device = new VirtioFsDevice(server, VirtioFsDevice.Options.of(share.tag(), WORKERS));
            VhostUserBackend backend = VhostUserBackend.start(device, VhostUserBackend.Config.of(socket)
                    .withOnDisconnect(VhostUserBackend.OnDisconnect.STOP)
                    .withMessageTimeout(Duration.ofSeconds(5)));
            return new VirtioFsShare(share, server, device, backend);
        } catch (RuntimeException e) {
            if (device != null) {
                device.close();
            }
            server.close();
            throw new HypervisorException("virtio-fs share '" + share.tag() + "': cannot listen on " + socket
                    + ": " + e.getMessage(), e);
        }
    }

    private static DescriptorBudget budget;

    /**
     * The descriptors every share of this process draws from: RLIMIT_NOFILE, raised once for a few
     * shares at full size where the process may, less {@link #RESERVED_FDS} for everything else.
     */
    static synchronized DescriptorBudget processBudget() {
        if (budget == null) {
            budget = new DescriptorBudget(Math.max(0, raiseOpenFileLimit(4) - RESERVED_FDS));
        }
        return budget;
    }

    /**
     * Raises RLIMIT_NOFILE (as root the hard limit too, up to {@code fs.nr_open}) so that
     * {@code shares} shares get their full inode and handle caps; returns the soft limit in effect.
     */
    private static long raiseOpenFileLimit(int shares) {
        long wanted = RESERVED_FDS + (long) Math.max(1, shares) * (MAX_INODES + MAX_HANDLES);
        try {
            wanted = Math.min(wanted, Long.parseLong(Files.readString(Path.of("/proc/sys/fs/nr_open")).strip()));
        } catch (IOException | NumberFormatException e) {
            // the kernel refuses what is too much; the hard limit then stays
        }
        try {
            return Processes.raiseOpenFileLimit(wanted);
        } catch (LinuxException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot raise RLIMIT_NOFILE: " + e.getMessage());
            return 1024;
        }
    }

    Device.SharedFs share() {
        return share;
    }

    Path socket() {
        return backend.socket();
    }

    VirtioFsDevice device() {
        return device;
    }

    /** Disconnects QEMU if still connected, stops the backend's thread, the workers and the server. */
    @Override
    public void close() {
        try {
            backend.close();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "stopping the virtio-fs backend of '" + share.tag() + "'", e);
        }
        device.close();
        server.close();
    }

    @Override
    public String toString() {
        return "virtio-fs '" + share.tag() + "' " + share.hostPath() + " on " + backend.socket();
    }
}
