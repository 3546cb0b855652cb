package dev.kava.virtio.vhostuser;

import dev.kava.linux.Errno;
import dev.kava.linux.ErrnoException;
import dev.kava.linux.Fd;
import dev.kava.linux.LinuxException;
import dev.kava.linux.SystemCalls;
import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.memory.GuestMemoryException;
import dev.kava.virtio.queue.QueueLayout;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The back-end side of one front-end connection: negotiated features, the memory table, the
 * vrings, and the handling of every request. Runs on the backend's thread only.
 *
 * <p>Outcomes of a request: a reply (GET_* requests, or the REPLY_ACK status when the front-end
 * asked for one); a refusal, answered with a non-zero REPLY_ACK status when the front-end asked
 * for one and otherwise ending the connection; or a {@link ProtocolException}, ending it.
 */
final class Session implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Session.class.getName());

    /** Where the backend watches kick eventfds. */
    interface Kicks {
        void watch(Vring ring);

        void unwatch(Vring ring);
    }

    /** A well-formed request the back-end will not carry out. */
    private static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    private static final long NOFD = 0x100;
    private static final int VRING_F_LOG = 0;
    private static final int MAX_CONFIG = 256;

    private final VhostUserDevice device;
    private final Kicks kicks;
    private final VhostUserBackend.Observer observer;
    private final long offeredFeatures;
    private final long offeredProtocolFeatures;
    private final Vring[] rings;
    private final Set<Integer> toProcess = new LinkedHashSet<>();
    private long features;
    private long protocolFeatures;
    private GuestMemory memory;

    Session(VhostUserDevice device, Kicks kicks, VhostUserBackend.Observer observer) {
        this.device = device;
        this.kicks = kicks;
        this.observer = observer;
        this.offeredFeatures = VhostUserBackend.offeredFeatures(device);
        this.offeredProtocolFeatures = VhostUserBackend.offeredProtocolFeatures(device);
        this.rings = new Vring[device.numQueues()];
        for (int i = 0; i < rings.length; i++) {
            rings[i] = new Vring(i);
        }
    }

    /**
     * Handles one message; returns the bytes to send back, or null. The message's fds are closed or
     * taken. The device is quiesced first: no chain is in flight while memory or rings change.
     */
    byte[] handle(Message m) throws ProtocolException {
        VhostUserRequest request = VhostUserRequest.of(m.request);
        try {
            device.quiesce();
            byte[] reply = dispatch(request, m);
            if (reply == null && ackRequested(m)) {
                reply = Message.reply(m.request, Message.u64(0));
            }
            observer.handled(request, true);
            return reply;
        } catch (Refused e) {
            if (request != null) {
                observer.handled(request, false);
            }
            String why = Connection.describe(m.request) + " refused: " + e.getMessage();
            if (ackRequested(m) && !hasOwnReply(request)) {
                LOG.log(System.Logger.Level.DEBUG, why);
                return Message.reply(m.request, Message.u64(1));
            }
            throw new ProtocolException(why);
        } finally {
            m.closeFds();
        }
    }

    private boolean ackRequested(Message m) {
        return m.needsReply() && (protocolFeatures & (1L << VhostUserBackend.PROTOCOL_F_REPLY_ACK)) != 0;
    }

    private static boolean hasOwnReply(VhostUserRequest r) {
        return r == VhostUserRequest.GET_FEATURES || r == VhostUserRequest.GET_PROTOCOL_FEATURES
                || r == VhostUserRequest.GET_VRING_BASE || r == VhostUserRequest.GET_QUEUE_NUM
                || r == VhostUserRequest.GET_CONFIG;
    }

    private byte[] dispatch(VhostUserRequest r, Message m) throws Refused, ProtocolException {
        if (r == null) {
            throw new Refused("unknown request");
        }
        boolean takesFds = r == VhostUserRequest.SET_MEM_TABLE || r == VhostUserRequest.SET_VRING_KICK
                || r == VhostUserRequest.SET_VRING_CALL || r == VhostUserRequest.SET_VRING_ERR;
        if (!takesFds && m.fdCount() > 0) {
            throw new Refused(m.fdCount() + " unexpected descriptors");
        }
        switch (r) {
            case GET_FEATURES -> {
                size(m, 0);
                return Message.reply(m.request, Message.u64(offeredFeatures));
            }
            case SET_FEATURES -> {
                size(m, 8);
                long f = m.body().getLong();
                if ((f & ~offeredFeatures) != 0) {
                    throw new Refused("features 0x" + Long.toHexString(f & ~offeredFeatures) + " were not offered");
                }
                features = f;
                device.acknowledgeFeatures(f);
                return null;
            }
            case GET_PROTOCOL_FEATURES -> {
                size(m, 0);
                return Message.reply(m.request, Message.u64(offeredProtocolFeatures));
            }
            case SET_PROTOCOL_FEATURES -> {
                size(m, 8);
                long f = m.body().getLong();
                if ((f & ~offeredProtocolFeatures) != 0) {
                    throw new Refused("protocol features 0x" + Long.toHexString(f & ~offeredProtocolFeatures) + " were not offered");
                }
                protocolFeatures = f;
                return null;
            }
            case SET_OWNER -> {
                size(m, 0);
                return null;
            }
            case RESET_OWNER -> {
                size(m, 0);
                for (Vring ring : rings) {
                    stop(ring);
                }
                return null;
            }
            case RESET_DEVICE -> {
                size(m, 0);
                if ((protocolFeatures & (1L << VhostUserBackend.PROTOCOL_F_RESET_DEVICE)) == 0) {
                    throw new Refused("VHOST_USER_PROTOCOL_F_RESET_DEVICE was not negotiated");
                }
                resetDevice();
                return null;
            }
            case SET_MEM_TABLE -> {
                setMemTable(m);
                return null;
            }
            case SET_VRING_NUM -> {
                ByteBuffer b = state(m);
                Vring ring = ring(b.getInt());
                int num = b.getInt();
                if (ring.started()) {
                    throw new Refused("vring " + ring.index + " is started");
                }
                int max = Math.min(Virtqueue.MAX_SIZE, device.maxQueueSize());
                if (num <= 0 || num > max || Integer.bitCount(num) != 1) {
                    throw new Refused("vring size " + Integer.toUnsignedString(num) + " is not a power of 2 in 1.." + max);
                }
                ring.size = num;
                return null;
            }
            case SET_VRING_ADDR -> {
                setVringAddr(m);
                return null;
            }
            case SET_VRING_BASE -> {
                ByteBuffer b = state(m);
                Vring ring = ring(b.getInt());
                int base = b.getInt();
                if (ring.started()) {
                    throw new Refused("vring " + ring.index + " is started");
                }
                if (base < 0 || base > 0xffff) {
                    throw new Refused("vring base " + Integer.toUnsignedString(base) + " is not a 16-bit index");
                }
                ring.base = base;
                return null;
            }
            case GET_VRING_BASE -> {
                ByteBuffer b = state(m);
                Vring ring = ring(b.getInt());
                stop(ring);
                return Message.reply(m.request, Message.vringState(ring.index, ring.base));
            }
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> {
                setVringFile(r, m);
                return null;
            }
            case GET_QUEUE_NUM -> {
                size(m, 0);
                return Message.reply(m.request, Message.u64(rings.length));
            }
            case SET_VRING_ENABLE -> {
                ByteBuffer b = state(m);
                Vring ring = ring(b.getInt());
                int enable = b.getInt();
                if (enable != 0 && enable != 1) {
                    throw new Refused("SET_VRING_ENABLE with " + Integer.toUnsignedString(enable));
                }
                ring.enabled = enable == 1;
                if (ring.enabled && ring.started()) {
                    toProcess.add(ring.index); // buffers may have come while it was disabled
                }
                return null;
            }
            case GET_CONFIG -> {
                return getConfig(m);
            }
            case SET_CONFIG -> throw new Refused("the configuration space is read-only");
            default -> throw new Refused("not supported by this back-end");
        }
    }

    private static void size(Message m, int expected) throws Refused {
        if (m.payload.length != expected) {
            throw new Refused("payload of " + m.payload.length + " bytes, expected " + expected);
        }
    }

    private static ByteBuffer state(Message m) throws Refused {
        size(m, 8);
        return m.body();
    }

    private Vring ring(int index) throws Refused {
        if (index < 0 || index >= rings.length) {
            throw new Refused("no vring " + Integer.toUnsignedString(index) + " (the device has " + rings.length + ")");
        }
        return rings[index];
    }

    // ---------------------------------------------------------------- memory table

    private void setMemTable(Message m) throws Refused {
        List<Fd> fds = m.takeFds();
        try {
            if (m.payload.length < 8) {
                throw new Refused("payload of " + m.payload.length + " bytes");
            }
            ByteBuffer b = m.body();
            int n = b.getInt();
            b.getInt(); // padding
            if (n < 1 || n > Connection.MAX_FDS) {
                throw new Refused(Integer.toUnsignedString(n) + " regions, at most " + Connection.MAX_FDS + " supported");
            }
            if (m.payload.length != 8 + 32 * n) {
                throw new Refused("payload of " + m.payload.length + " bytes for " + n + " regions");
            }
            if (fds.size() != n) {
                throw new Refused(fds.size() + " descriptors for " + n + " regions");
            }
            List<GuestMemory.SharedRegion> table = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                table.add(new GuestMemory.SharedRegion(b.getLong(), b.getLong(), b.getLong(), b.getLong(), fds.get(i)));
            }
            GuestMemory next;
            try {
                next = GuestMemory.mapShared(table);
            } catch (GuestMemoryException e) {
                throw new Refused(e.getMessage());
            }
            GuestMemory old = memory;
            memory = next;
            for (Vring ring : rings) {
                if (ring.started()) {
                    try {
                        setQueue(ring, queueFor(ring, ring.queue.nextAvailIndex(), ring.queue.nextUsedIndex()));
                    } catch (Refused e) {
                        setQueue(ring, ring.queue); // on the new memory, for GET_VRING_BASE
                        fail(ring, new IllegalStateException("after SET_MEM_TABLE: " + e.getMessage()));
                    }
                }
            }
            if (old != null) {
                old.close();
            }
        } finally {
            fds.forEach(Fd::close);
        }
    }

    // ---------------------------------------------------------------- vrings

    private void setVringAddr(Message m) throws Refused {
        size(m, 40);
        ByteBuffer b = m.body();
        Vring ring = ring(b.getInt());
        int flags = b.getInt();
        long desc = b.getLong();
        long used = b.getLong();
        long avail = b.getLong();
        b.getLong(); // log_guest_addr: dirty logging is not offered
        if ((flags & (1 << VRING_F_LOG)) != 0) {
            throw new Refused("VHOST_VRING_F_LOG: dirty logging is not supported");
        }
        long[] before = {ring.descUser, ring.availUser, ring.usedUser};
        boolean wasAddressed = ring.addressed;
        ring.descUser = desc;
        ring.availUser = avail;
        ring.usedUser = used;
        ring.addressed = true;
        try {
            if (memory != null && ring.size > 0) {
                queueFor(ring, 0, 0); // refuse rings outside the memory table or misaligned now, not at start
            }
            if (ring.started()) {
                setQueue(ring, queueFor(ring, ring.queue.nextAvailIndex(), ring.queue.nextUsedIndex()));
            }
        } catch (Refused e) {
            ring.descUser = before[0];
            ring.availUser = before[1];
            ring.usedUser = before[2];
            ring.addressed = wasAddressed;
            throw e;
        }
    }

    private void setVringFile(VhostUserRequest r, Message m) throws Refused {
        List<Fd> fds = m.takeFds();
        try {
            size(m, 8);
            long v = m.body().getLong();
            if ((v & ~0x1ffL) != 0) {
                throw new Refused("payload 0x" + Long.toHexString(v) + " has bits beyond the index and NOFD");
            }
            Vring ring = ring((int) (v & 0xff));
            boolean nofd = (v & NOFD) != 0;
            if (fds.size() != (nofd ? 0 : 1)) {
                throw new Refused(fds.size() + " descriptors" + (nofd ? " with NOFD" : ", expected 1"));
            }
            Fd fd = nofd ? null : fds.removeFirst();
            if (fd != null) {
                try {
                    fd.setNonBlocking(true); // a front-end draining the eventfd first must not block this thread
                } catch (LinuxException e) {
                    fd.close();
                    throw new Refused("descriptor unusable: " + e.getMessage());
                }
            }
            switch (r) {
                case SET_VRING_KICK -> {
                    if (fd == null) {
                        throw new Refused("polling without a kick eventfd is not supported");
                    }
                    if (ring.kick != null) {
                        kicks.unwatch(ring);
                        ring.kick.close();
                    }
                    ring.kick = fd;
                    kicks.watch(ring);
                    if (!ring.started()) {
                        start(ring);
                    }
                }
                case SET_VRING_CALL -> {
                    close(ring.call);
                    ring.call = fd;
                }
                case SET_VRING_ERR -> {
                    close(ring.err);
                    ring.err = fd;
                }
                default -> throw new IllegalArgumentException(r.name());
            }
        } finally {
            fds.forEach(Fd::close);
        }
    }

    /** Starts a ring on its kick: the vhost-user rule. Without protocol features it is also enabled. */
    private void start(Vring ring) throws Refused {
        if (memory == null) {
            throw new Refused("vring " + ring.index + " started before SET_MEM_TABLE");
        }
        if (ring.size == 0 || !ring.addressed) {
            throw new Refused("vring " + ring.index + " started without SET_VRING_NUM and SET_VRING_ADDR");
        }
        int usedIdx;
        QueueLayout layout = layout(ring);
        try {
            usedIdx = memory.readU16(layout.usedRing() + 2);
        } catch (GuestMemoryException e) {
            throw new Refused(e.getMessage());
        }
        setQueue(ring, queueFor(ring, ring.base, usedIdx));
        ring.failed = false;
        if ((features & (1L << VhostUserBackend.F_PROTOCOL_FEATURES)) == 0) {
            ring.enabled = true;
        }
        toProcess.add(ring.index); // the kick may have been signalled before it was sent
    }

    /** Gives {@code ring} a new queue (or none), on the current memory; retires the old {@link UsedRing}. */
    private void setQueue(Vring ring, Virtqueue queue) {
        if (ring.used != null) {
            ring.used.retire();
        }
        ring.queue = queue;
        ring.used = queue == null ? null
                : new UsedRing(queue, memory, () -> signal(ring.call), cause -> fail(ring, cause), () -> ring.failed);
    }

    private Virtqueue queueFor(Vring ring, int nextAvail, int nextUsed) throws Refused {
        try {
            return Virtqueue.create(memory, layout(ring), features, nextAvail, nextUsed);
        } catch (VirtqueueException e) {
            throw new Refused("vring " + ring.index + ": " + e.getMessage());
        }
    }

    /** The ring's guest-physical layout: its user addresses translated through the memory table. */
    private QueueLayout layout(Vring ring) throws Refused {
        try {
            return new QueueLayout(ring.size,
                    memory.guestAddressOfUser(ring.descUser, 16L * ring.size),
                    memory.guestAddressOfUser(ring.availUser, 6 + 2L * ring.size),
                    memory.guestAddressOfUser(ring.usedUser, 6 + 8L * ring.size));
        } catch (GuestMemoryException e) {
            throw new Refused("vring " + ring.index + " addresses: " + e.getMessage());
        }
    }

    /** Stops a ring (GET_VRING_BASE): remembers where it was and stops watching its kick. */
    private void stop(Vring ring) {
        toProcess.remove(ring.index);
        if (ring.queue != null) {
            ring.base = ring.queue.nextAvailIndex();
            setQueue(ring, null);
        }
        ring.failed = false;
        if (ring.kick != null) {
            kicks.unwatch(ring);
            ring.kick.close();
            ring.kick = null;
        }
    }

    private void resetDevice() {
        for (Vring ring : rings) {
            stop(ring);
            close(ring.call);
            close(ring.err);
            ring.call = null;
            ring.err = null;
            ring.size = 0;
            ring.addressed = false;
            ring.base = 0;
            ring.enabled = false;
        }
        if (memory != null) {
            memory.close();
            memory = null;
        }
        device.reset();
    }

    private byte[] getConfig(Message m) throws Refused {
        if (m.payload.length < 12) {
            throw new Refused("payload of " + m.payload.length + " bytes");
        }
        ByteBuffer b = m.body();
        int offset = b.getInt();
        int size = b.getInt();
        int flags = b.getInt();
        if (Integer.toUnsignedLong(size) != m.payload.length - 12L) {
            throw new Refused("size " + Integer.toUnsignedString(size) + " with " + (m.payload.length - 12) + " payload bytes");
        }
        byte[] config = device.config();
        if (size > MAX_CONFIG || Integer.toUnsignedLong(offset) + size > config.length) {
            return Message.reply(m.request, new byte[0]); // the protocol's error answer to GET_CONFIG
        }
        ByteBuffer out = ByteBuffer.allocate(12 + size).order(ByteOrder.nativeOrder());
        out.putInt(offset).putInt(size).putInt(flags).put(config, offset, size);
        return Message.reply(m.request, out.array());
    }

    // ---------------------------------------------------------------- data path

    /** Queue {@code index}'s kick eventfd is readable: drain it and let the device work. */
    void kicked(int index) {
        if (index < 0 || index >= rings.length) {
            return;
        }
        Vring ring = rings[index];
        if (ring.kick == null) {
            return;
        }
        byte[] count = new byte[8];
        try {
            ring.kick.read(count, 0, 8);
        } catch (ErrnoException e) {
            if (e.errno() != Errno.EAGAIN) {
                LOG.log(System.Logger.Level.DEBUG, "kick of vring " + index + ": " + e.getMessage());
            }
        }
        process(ring);
    }

    /** Runs the device on rings that were started or enabled by the last message. */
    void processPending() {
        List<Integer> pending = new ArrayList<>(toProcess);
        toProcess.clear();
        for (int index : pending) {
            process(rings[index]);
        }
    }

    private void process(Vring ring) {
        if (!ring.started() || !ring.enabled || ring.failed || memory == null) {
            return;
        }
        Virtqueue queue = ring.queue;
        UsedRing used = ring.used;
        // the device's worker threads add used chains under the same monitor (see UsedRing)
        synchronized (used) {
            try {
                device.handleQueue(ring.index, queue, memory, used);
            } catch (VirtqueueException | RuntimeException e) {
                fail(ring, e);
            } catch (InternalError e) {
                // a fault in guest memory (its file was truncated): this ring cannot go on
                fail(ring, new IllegalStateException(e.getMessage(), e));
            }
            // chains completed before a failure are still the driver's to see
            try {
                if (queue.needsNotification(memory)) {
                    signal(ring.call);
                }
            } catch (VirtqueueException e) {
                fail(ring, e);
            }
        }
    }

    /**
     * Stops processing a ring and signals its error eventfd (the vhost-user DEVICE_NEEDS_RESET).
     * Called on the backend's thread, or on a device's worker through {@link UsedRing}.
     */
    private void fail(Vring ring, Exception cause) {
        synchronized (ring) {
            if (ring.failed) {
                return;
            }
            ring.failed = true;
        }
        LOG.log(System.Logger.Level.WARNING, "vring " + ring.index + " stopped: " + cause.getMessage());
        signal(ring.err);
        observer.queueFailed(ring.index, cause);
    }

    static void signal(Fd eventfd) {
        if (eventfd != null) {
            SystemCalls.eventfdSignal(eventfd);
        }
    }

    private static void close(Fd fd) {
        if (fd != null) {
            fd.close();
        }
    }

    /** Quiesces the device, stops every ring, closes every eventfd, unmaps memory and resets the device. */
    @Override
    public void close() {
        try {
            device.quiesce();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "quiescing the device", e);
        }
        for (Vring ring : rings) {
            try {
                stop(ring);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "stopping vring " + ring.index + ": " + e);
            }
            close(ring.call);
            close(ring.err);
            ring.call = null;
            ring.err = null;
        }
        try {
            if (memory != null) {
                memory.close();
            }
        } finally {
            memory = null;
            device.reset();
        }
    }
}
