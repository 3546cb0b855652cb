package dev.kava.virtio.fs;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.DescriptorChain;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;
import dev.kava.virtio.vhostuser.UsedRing;
import dev.kava.virtio.vhostuser.VhostUserDevice;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * The virtio-fs device (virtio 1.2 §5.11, device id 26) around a {@link FuseServer}: queue 0 is
 * the hiprio queue (FORGET, BATCH_FORGET, INTERRUPT), queues 1..n the request queues. Its
 * configuration space is {@code tag[36]} (UTF-8, NUL-padded) and {@code num_request_queues}
 * (le32); no device feature is offered (no VIRTIO_FS_F_NOTIFICATION, so no notification queue).
 *
 * <h2>Chains</h2>
 * Each chain is one FUSE request: its readable buffers go to the server, its writable ones take the
 * reply, and the chain is returned with the reply's length as the used length (0 when there is no
 * reply: FORGET, or buffers too small even for a {@code fuse_out_header}; a reply too large for
 * the buffers is an ERANGE error reply). No exception leaves the device for anything the guest
 * wrote. A chain the queue rejects as malformed (a loop, a buffer outside guest memory, a
 * readable buffer after a writable one, a bad indirect table: virtio 1.2 §2.7.5) has been taken
 * off the available ring; it is returned unread with used length 0 (the bytes the device wrote,
 * none) so the driver can reclaim its descriptors, and the queue goes on. An error that makes the
 * whole queue unusable (its rings outside memory, an available index that jumps) is thrown to the
 * caller, which stops the queue and reports DEVICE_NEEDS_RESET (a vhost-user backend signals the
 * ring's error eventfd).
 *
 * <h2>Threads</h2>
 * The hiprio queue is served on the calling thread. On a request queue, a kick that finds one
 * chain (a guest thread waiting for each answer in turn: the common case) is served on the calling
 * thread too, which saves two thread wake-ups per request; a kick that finds several hands them to
 * {@code workers} platform threads of the device (FUSE requests block in file system calls), which
 * serve them in parallel and return them through the {@link UsedRing}, which notifies the driver.
 * {@link #quiesce()} waits for them, so guest memory never changes under a worker (see
 * {@link VhostUserDevice}). With 0 workers, or through the synchronous
 * {@link #handleQueue(int, Virtqueue, GuestMemory)} (an in-process VMM's event loop), every chain
 * is served before the call returns.
 */
public final class VirtioFsDevice implements VhostUserDevice, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VirtioFsDevice.class.getName());

    /** The virtio device id of a file system device. */
    public static final int DEVICE_ID = 26;
    /** The hiprio queue's index; request queues follow it. */
    public static final int HIPRIO_QUEUE = 0;
    /** Bytes of the tag in the configuration space. */
    public static final int TAG_BYTES = 36;
    /** Bytes of the configuration space: the tag and {@code num_request_queues}. */
    public static final int CONFIG_BYTES = TAG_BYTES + 4;
    /** Largest queue size offered: QEMU's limit for a virtio queue. */
    public static final int MAX_QUEUE_SIZE = 1024;
    /** Most request queues; a Linux 6.1 guest uses the first one only. */
    public static final int MAX_REQUEST_QUEUES = 16;

    /**
     * How the device is shaped.
     *
     * @param tag           what the guest mounts ({@code mount -t virtiofs TAG DIR}): 1..36 bytes of
     *                      UTF-8 without NUL
     * @param requestQueues request queues, 1..{@value #MAX_REQUEST_QUEUES}
     * @param workers       threads serving the request queues, 0..64 (0: on the caller's thread)
     */
    public record Options(String tag, int requestQueues, int workers) {
        public Options {
            Objects.requireNonNull(tag, "tag");
            int bytes = tag.getBytes(StandardCharsets.UTF_8).length;
            if (bytes < 1 || bytes > TAG_BYTES || tag.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("a virtio-fs tag is 1.." + TAG_BYTES + " bytes without NUL: '" + tag + "'");
            }
            if (requestQueues < 1 || requestQueues > MAX_REQUEST_QUEUES) {
                throw new IllegalArgumentException("request queues must be 1.." + MAX_REQUEST_QUEUES + ": " + requestQueues);
            }
            if (workers < 0 || workers > 64) {
                throw new IllegalArgumentException("workers must be 0..64: " + workers);
            }
        }

        /** One request queue and {@code workers} worker threads. */
        public static Options of(String tag, int workers) {
            return new Options(tag, 1, workers);
        }
    }

    private final FuseServer server;
    private final Options options;
    private final byte[] config;
    private final RequestWorkers pool;
    private final LongAdder requests = new LongAdder();
    private final LongAdder malformed = new LongAdder();
    private volatile long acknowledged;

    /** A device serving {@code server}; the server stays the caller's to close. */
    public VirtioFsDevice(FuseServer server, Options options) {
        this.server = Objects.requireNonNull(server, "server");
        this.options = Objects.requireNonNull(options, "options");
        this.config = configSpace(options.tag(), options.requestQueues());
        this.pool = options.workers() == 0 ? null : new RequestWorkers(options.tag(), options.workers());
    }

    public FuseServer server() {
        return server;
    }

    public Options options() {
        return options;
    }

    /** FUSE requests served so far (both queues). */
    public long requests() {
        return requests.sum();
    }

    /** Malformed chains returned unread so far. */
    public long malformedChains() {
        return malformed.sum();
    }

    /** Chains being served by workers now. */
    public int inFlight() {
        return pool == null ? 0 : pool.inFlight();
    }

    /** The features the driver acknowledged, transport bits included. */
    public long acknowledgedFeatures() {
        return acknowledged;
    }

    @Override
    public long features() {
        return 0; // VIRTIO_FS_F_NOTIFICATION is not offered
    }

    @Override
    public long protocolFeatures() {
        return 0; // QEMU's vhost-user-fs-device has the tag itself; GET_CONFIG is not needed
    }

    @Override
    public int numQueues() {
        return 1 + options.requestQueues();
    }

    @Override
    public int maxQueueSize() {
        return MAX_QUEUE_SIZE;
    }

    @Override
    public byte[] config() {
        return config.clone();
    }

    @Override
    public void acknowledgeFeatures(long features) {
        acknowledged = features;
    }

    /** Serves every available chain of queue {@code index} before returning. */
    @Override
    public void handleQueue(int index, Virtqueue queue, GuestMemory memory) throws VirtqueueException {
        DescriptorChain c;
        while ((c = next(queue, memory)) != null) {
            queue.addUsed(memory, c.head(), serve(index, c));
        }
    }

    /** Pops every available chain of queue {@code index} and hands request-queue chains to the workers. */
    @Override
    public void handleQueue(int index, Virtqueue queue, GuestMemory memory, UsedRing used) throws VirtqueueException {
        if (pool == null || index == HIPRIO_QUEUE) {
            handleQueue(index, queue, memory);
            return;
        }
        DescriptorChain first = next(queue, memory);
        if (first == null) {
            return;
        }
        DescriptorChain c = next(queue, memory);
        if (c == null) {
            // a lone request (a guest thread waiting for each answer): served here, without the
            // hand-off to a worker and back, which costs two thread wake-ups on a busy host
            queue.addUsed(memory, first.head(), serve(index, first));
            return;
        }
        dispatch(index, first, queue, memory, used);
        do {
            dispatch(index, c, queue, memory, used);
        } while ((c = next(queue, memory)) != null);
    }

    /** Hands one chain to the workers; they return it through {@code used}. */
    private void dispatch(int index, DescriptorChain chain, Virtqueue queue, GuestMemory memory, UsedRing used)
            throws VirtqueueException {
        if (!pool.submit(() -> used.add(chain.head(), serve(index, chain)))) {
            queue.addUsed(memory, chain.head(), 0); // closed meanwhile: answer nothing, but give the descriptors back
        }
    }

    /**
     * The next chain worth serving, or null. Malformed chains are returned with used length 0 and
     * skipped; errors that make the queue unusable are thrown.
     */
    private DescriptorChain next(Virtqueue queue, GuestMemory memory) throws VirtqueueException {
        while (true) {
            try {
                return queue.pop(memory);
            } catch (VirtqueueException e) {
                if (e.reason().fatal()) {
                    throw e;
                }
                malformed.increment();
                // the first one says loudly what the guest did; a hostile guest cannot flood the log
                LOG.log(malformed.sum() == 1 ? System.Logger.Level.WARNING : System.Logger.Level.DEBUG,
                        () -> "virtio-fs " + options.tag() + ": malformed chain returned unread: " + e.getMessage());
                if (e.head() >= 0) {
                    queue.addUsed(memory, e.head(), 0);
                }
            }
        }
    }

    /** One FUSE request; returns the reply's length. Never throws. */
    private int serve(int index, DescriptorChain c) {
        requests.increment();
        return serve(server, options.tag(), index, c);
    }

    /**
     * One FUSE request of queue {@code index} through {@code server}; returns the reply's length.
     * Never throws: a server bug, or guest memory gone under a copy, returns the chain empty.
     */
    static int serve(FuseServer server, String tag, int index, DescriptorChain c) {
        try {
            return index == HIPRIO_QUEUE ? server.handleHighPriority(c.readable(), c.writable())
                    : server.handle(c.readable(), c.writable());
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.WARNING, "virtio-fs " + tag + ": request failed", t);
            return 0;
        }
    }

    /** The device's configuration space: {@code tag[36]} (NUL-padded) and le32 {@code num_request_queues}. */
    static byte[] configSpace(String tag, int requestQueues) {
        ByteBuffer b = ByteBuffer.allocate(CONFIG_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(tag.getBytes(StandardCharsets.UTF_8)).position(TAG_BYTES);
        b.putInt(requestQueues);
        return b.array();
    }

    /** Waits until no worker is serving a chain. */
    @Override
    public void quiesce() {
        if (pool != null) {
            pool.quiesce();
        }
    }

    /** The front-end reset the device or left: every inode and handle the guest held is dropped. */
    @Override
    public void reset() {
        quiesce();
        server.reset();
    }

    /** Stops the worker threads (after the chains in flight). Idempotent; the server stays open. */
    @Override
    public void close() {
        if (pool != null) {
            pool.close();
        }
    }

    @Override
    public String toString() {
        return "VirtioFsDevice[" + options.tag() + ", " + options.requestQueues() + " request queue(s), "
                + options.workers() + " worker(s)]";
    }
}
