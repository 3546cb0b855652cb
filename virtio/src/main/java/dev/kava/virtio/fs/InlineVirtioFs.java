package dev.kava.virtio.fs;

import dev.kava.linux.Epoll;
import dev.kava.linux.Fd;
import dev.kava.linux.SystemCalls;
import dev.kava.virtio.device.ActiveQueue;
import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.queue.DescriptorChain;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * virtio-fs (virtio 1.2 §5.11) as a device of the built-in VMM: the same {@link FuseServer} that
 * {@link VirtioFsDevice} gives QEMU through vhost-user, here driven by a transport of this process
 * (virtio-mmio), with no second process and no shared memfd: "inline virtio-fs", as Kata's
 * Dragonball has it.
 *
 * <p>Queue 0 is the hiprio queue (FORGET, BATCH_FORGET: no replies), served on the thread the
 * transport calls in (the VM's device event loop). Queue 1 is the one request queue. With workers
 * (the default, {@link #DEFAULT_WORKERS}), its chains are handed to platform threads of the device,
 * so that a slow host file system (or a hung one) never stalls the VM's other devices, which share
 * the event loop; a worker's answer goes back through an eventfd the device registers with the
 * loop, and the loop's thread puts it in the used ring and interrupts the driver, so the
 * transport's rule holds: the device's queues are only ever touched by one thread at a time. With
 * 0 workers every chain is served on the loop's thread, in ring order.
 *
 * <p>Malformed chains come back from {@link ActiveQueue#pop()} with used length 0; a ring broken
 * for good makes the device ask for a reset. The server answers every malformed FUSE request
 * itself (see {@link FuseServer}); nothing a guest sends makes this class throw.
 *
 * <p>{@link #reset()} (the driver reset the device) waits for the requests in flight, drops their
 * answers (the rings they belonged to are gone) and every inode and handle the guest held;
 * {@link #close()} stops the workers and leaves the server open: it is the owner's to close, after
 * the transport.
 */
public final class InlineVirtioFs implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(InlineVirtioFs.class.getName());

    /** hiprio + one request queue. */
    private static final int QUEUES = 2;
    /** Worker threads per device unless told otherwise: as many as a vhost-user share has. */
    public static final int DEFAULT_WORKERS = 2;

    /** A worker's answer, waiting for the loop's thread. */
    private record Done(ActiveQueue queue, DescriptorChain chain, int length) {}

    private final FuseServer server;
    private final String tag;
    private final byte[] config;
    private final RequestWorkers workers;
    private final ConcurrentLinkedQueue<Done> done = new ConcurrentLinkedQueue<>();
    private final LongAdder requests = new LongAdder();
    private DeviceContext context;
    private List<ActiveQueue> queues;
    /** Signalled by workers when {@link #done} has answers; registered with the loop while active. */
    private volatile Fd doneSignal;

    /** A device serving {@code server} under {@code tag} with {@link #DEFAULT_WORKERS} workers. */
    public InlineVirtioFs(FuseServer server, String tag) {
        this(server, tag, DEFAULT_WORKERS);
    }

    /**
     * A device serving {@code server} under {@code tag} (1..36 bytes of UTF-8 without NUL), with
     * {@code workers} (0..64) threads for the request queue; 0 serves on the loop's thread.
     */
    public InlineVirtioFs(FuseServer server, String tag, int workers) {
        this.server = Objects.requireNonNull(server, "server");
        this.tag = new VirtioFsDevice.Options(tag, 1, workers).tag(); // the tag's and the count's rules
        this.config = VirtioFsDevice.configSpace(tag, QUEUES - 1);
        this.workers = workers == 0 ? null : new RequestWorkers(tag, workers);
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
        this.context = context;
        this.queues = context.queues();
        if (workers != null) {
            Fd fd = SystemCalls.eventfd(0, SystemCalls.EFD_CLOEXEC | SystemCalls.EFD_NONBLOCK);
            try {
                context.events().add(fd, Epoll.EPOLLIN, events -> completeDone());
            } catch (RuntimeException e) {
                fd.close();
                throw e;
            }
            doneSignal = fd;
        }
    }

    @Override
    public void queueNotify(int index) {
        List<ActiveQueue> qs = queues;
        if (qs == null || index < 0 || index >= QUEUES) {
            return;
        }
        ActiveQueue q = qs.get(index);
        DescriptorChain chain;
        if (workers == null || index == VirtioFsDevice.HIPRIO_QUEUE) {
            while ((chain = q.pop()) != null) {
                q.complete(chain, serve(index, chain));
            }
            q.notifyDriver();
            return;
        }
        boolean refused = false;
        while ((chain = q.pop()) != null) {
            DescriptorChain c = chain;
            if (!workers.submit(() -> {
                done.add(new Done(q, c, serve(index, c)));
                signalDone();
            })) {
                q.complete(c, 0); // the device is closing: give the descriptors back, unanswered
                refused = true;
            }
        }
        if (refused) {
            q.notifyDriver();
        }
    }

    /** On a worker: wakes the loop's thread to return the answers. */
    private void signalDone() {
        Fd fd = doneSignal;
        if (fd != null) {
            SystemCalls.eventfdSignal(fd);
        }
    }

    /** On the loop's thread: the workers' answers into the used ring, then one interrupt. */
    private void completeDone() {
        Fd fd = doneSignal;
        if (fd != null) {
            SystemCalls.eventfdDrain(fd);
        }
        ActiveQueue completed = null;
        Done d;
        while ((d = done.poll()) != null) {
            if (queues != null && queues.contains(d.queue())) { // answers for rings a reset discarded are dropped
                d.queue().complete(d.chain(), d.length());
                completed = d.queue(); // workers serve the one request queue only
            }
        }
        if (completed != null) {
            completed.notifyDriver();
        }
    }

    private int serve(int index, DescriptorChain c) {
        requests.increment();
        return VirtioFsDevice.serve(server, tag, index, c);
    }

    /** FUSE requests served so far (both queues). */
    public long requests() {
        return requests.sum();
    }

    /** Request-queue chains handed to the workers and not yet answered by them. */
    public int inFlight() {
        return workers == null ? 0 : workers.inFlight();
    }

    @Override
    public void reset() {
        if (workers != null) {
            workers.quiesce();
        }
        done.clear();
        Fd fd = doneSignal;
        doneSignal = null;
        if (fd != null) {
            try {
                context.events().remove(fd);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "virtio-fs " + tag + ": " + e.getMessage());
            }
            fd.close();
        }
        queues = null;
        context = null;
        server.reset();
    }

    @Override
    public void close() {
        if (doneSignal != null) {
            reset(); // closed without a reset: the eventfd and the answers go too
        }
        queues = null;
        if (workers != null) {
            workers.close();
        }
    }

    @Override
    public String toString() {
        return "InlineVirtioFs[" + tag + "]";
    }
}
