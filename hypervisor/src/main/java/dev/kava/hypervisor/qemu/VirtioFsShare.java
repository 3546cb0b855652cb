package dev.kava.hypervisor.qemu;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.linux.LinuxException;
import dev.kava.virtio.fs.FsConfig;
import dev.kava.virtio.fs.FuseServer;
import dev.kava.virtio.fs.ShareLimits;
import dev.kava.virtio.fs.VirtioFsDevice;
import dev.kava.virtio.vhostuser.VhostUserBackend;
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
     * make the server hold are capped as {@link ShareLimits} says, per share and for the process.
     */
    static VirtioFsShare start(Device.SharedFs share, Path socket) {
        FsConfig config = ShareLimits.configFor(share.hostPath().toAbsolutePath())
                .withCache(share.cache().serverMode()).withMaxWrite(MAX_WRITE);
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
