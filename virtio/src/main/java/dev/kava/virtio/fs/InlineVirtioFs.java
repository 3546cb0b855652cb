package dev.kava.virtio.fs;

import dev.kava.virtio.device.ActiveQueue;
import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.queue.DescriptorChain;
import java.util.List;
import java.util.Objects;

/**
 * virtio-fs (virtio 1.2 §5.11) as a device of the built-in VMM: the same {@link FuseServer} that
 * {@link VirtioFsDevice} gives QEMU through vhost-user, here driven by a transport of this process
 * (virtio-mmio), with no second process and no shared memfd: "inline virtio-fs", as Kata's
 * Dragonball has it.
 *
 * <p>Queue 0 is the hiprio queue (FORGET, BATCH_FORGET: no replies), queue 1 the one request
 * queue. Requests are served on the thread the transport calls in (the VM's device event loop), one
 * chain after another, in ring order; a long host read delays the VM's other device events for its
 * duration. Malformed chains come back from {@link ActiveQueue#pop()} with used length 0; a ring
 * broken for good makes the device ask for a reset. The server answers every malformed FUSE
 * request itself (see {@link FuseServer}); nothing a guest sends makes this class throw.
 *
 * <p>{@link #reset()} (the driver reset the device) drops every inode and handle the guest held;
 * {@link #close()} leaves the server open: it is the owner's to close, after the transport.
 */
public final class InlineVirtioFs implements VirtioDevice {
    /** hiprio + one request queue. */
    private static final int QUEUES = 2;

    private final FuseServer server;
    private final String tag;
    private final byte[] config;
    private List<ActiveQueue> queues;
    private long requests;

    /** A device serving {@code server} under {@code tag} (1..36 bytes of UTF-8 without NUL). */
    public InlineVirtioFs(FuseServer server, String tag) {
        this.server = Objects.requireNonNull(server, "server");
        this.tag = new VirtioFsDevice.Options(tag, 1, 0).tag(); // the tag's rules
        this.config = VirtioFsDevice.configSpace(tag, QUEUES - 1);
    }

    @Override
    public DeviceType type() {
        return DeviceType.FS;
    }

    @Override
    public long deviceFeatures() {
        return 0; // VIRTIO_FS_F_NOTIFICATION is not offered
    }

    @Override
    public int queueCount() {
        return QUEUES;
    }

    @Override
    public int maxQueueSize() {
        return VirtioFsDevice.MAX_QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return config.length;
    }

    @Override
    public void readConfig(int offset, byte[] dst) {
        System.arraycopy(config, offset, dst, 0, dst.length);
    }

    @Override
    public void writeConfig(int offset, byte[] src) {
        // tag and num_request_queues are read-only
    }

    @Override
    public boolean acceptsFeatures(long features) {
        return true;
    }

    @Override
    public void activate(DeviceContext context) {
        queues = context.queues();
    }

    @Override
    public void queueNotify(int index) {
        List<ActiveQueue> qs = queues;
        if (qs == null || index < 0 || index >= QUEUES) {
            return;
        }
        ActiveQueue q = qs.get(index);
        DescriptorChain chain;
        while ((chain = q.pop()) != null) {
            q.complete(chain, serve(index, chain));
        }
        q.notifyDriver();
    }

    private int serve(int index, DescriptorChain c) {
        requests++;
        return VirtioFsDevice.serve(server, tag, index, c);
    }

    /** FUSE requests served so far (both queues). */
    public long requests() {
        return requests;
    }

    @Override
    public void reset() {
        queues = null;
        server.reset();
    }

    @Override
    public void close() {
        queues = null;
    }

    @Override
    public String toString() {
        return "InlineVirtioFs[" + tag + "]";
    }
}
