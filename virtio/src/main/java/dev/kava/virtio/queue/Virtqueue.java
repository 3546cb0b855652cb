package dev.kava.virtio.queue;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.memory.GuestMemoryException;
import dev.kava.virtio.queue.VirtqueueException.Reason;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The device side of a split virtqueue (virtio 1.2 §2.7): takes descriptor chains the driver made
 * available and returns them through the used ring.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>The queue keeps plain state (its layout, negotiated ring features, and the next available
 *       and used indexes); guest memory is passed to every call, so the same queue follows memory
 *       that is replaced (vhost-user {@code SET_MEM_TABLE}) as long as its rings stay inside it.</li>
 *   <li>Everything the guest wrote is untrusted. {@link #pop} validates a chain while it walks it,
 *       reading each descriptor exactly once into locals, so a guest rewriting the ring meanwhile
 *       can only make the chain invalid, never make the device use something it did not check.
 *       Every violation is a {@link VirtqueueException} with a {@link Reason}; no other exception
 *       escapes for anything the guest wrote, and every walk is bounded by the queue size.</li>
 *   <li>Memory ordering: an acquire fence follows every read of the available index (ring entries
 *       and descriptors are read after it); a release fence precedes every store of the used
 *       index (the used element is visible first); a full fence separates publishing the used
 *       index from reading the driver's suppression fields, and publishing {@code avail_event}
 *       from re-reading the available index.</li>
 *   <li>Not thread-safe: one thread (the device's) drives a queue at a time.</li>
 * </ul>
 *
 * <p>A typical device loop: {@code while ((c = q.pop(mem)) != null) { ...; q.addUsed(mem,
 * c.head(), written); }} then {@code if (q.needsNotification(mem)) interrupt();}. When
 * VIRTIO_RING_F_EVENT_IDX is negotiated, {@code pop} finding the ring empty publishes
 * {@code avail_event} and re-checks, so a device that pops until {@code null} never misses a
 * buffer whose notification was suppressed.
 */
public final class Virtqueue {
    /** Largest queue size of a split ring. */
    public static final int MAX_SIZE = 32768;
    /** Feature bit: VIRTIO_RING_F_INDIRECT_DESC. */
    public static final int RING_F_INDIRECT_DESC = 28;
    /** Feature bit: VIRTIO_RING_F_EVENT_IDX. */
    public static final int RING_F_EVENT_IDX = 29;
    /** Descriptor flags. */
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;
    public static final int DESC_F_INDIRECT = 4;
    /** Available ring flag: the driver asks for no used-buffer notifications. */
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    /** Used ring flag: the device asks for no available-buffer notifications. */
    public static final int USED_F_NO_NOTIFY = 1;
    /** Most bytes the readable (or writable) part of one chain may have: the used length is a u32. */
    public static final long MAX_CHAIN_BYTES = 0xFFFF_FFFFL;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int DESCRIPTOR_BYTES = 16;

    private final QueueLayout layout;
    private final int mask;
    private final boolean eventIdx;
    private final boolean indirect;
    private int nextAvail;
    private int nextUsed;
    /** The used index at the last {@link #needsNotification} check. */
    private int signalledUsed;
    private boolean notificationsEnabled = true;
    private VirtqueueException broken;

    private Virtqueue(QueueLayout layout, long features, int nextAvail, int nextUsed) {
        this.layout = layout;
        this.mask = layout.size() - 1;
        this.eventIdx = (features & (1L << RING_F_EVENT_IDX)) != 0;
        this.indirect = (features & (1L << RING_F_INDIRECT_DESC)) != 0;
        this.nextAvail = nextAvail & 0xffff;
        this.nextUsed = nextUsed & 0xffff;
        this.signalledUsed = this.nextUsed;
    }

    /** A fresh queue: {@link #create(GuestMemory, QueueLayout, long, int, int)} with both indexes 0. */
    public static Virtqueue create(GuestMemory mem, QueueLayout layout, long features) throws VirtqueueException {
        return create(mem, layout, features, 0, 0);
    }

    /**
     * A queue with the given layout, the negotiated {@code features} (only the ring bits
     * {@link #RING_F_EVENT_IDX} and {@link #RING_F_INDIRECT_DESC} matter here), and the indexes to
     * go on from (a restarted vhost-user ring: {@code nextAvail} from SET_VRING_BASE,
     * {@code nextUsed} from the used ring). Fails with {@link Reason#INVALID_LAYOUT} when the size
     * is not a power of 2 in 1..{@link #MAX_SIZE}, or a part is misaligned or not entirely inside
     * one region of {@code mem}.
     */
    public static Virtqueue create(GuestMemory mem, QueueLayout layout, long features, int nextAvail, int nextUsed)
            throws VirtqueueException {
        int size = layout.size();
        if (size <= 0 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new VirtqueueException(Reason.INVALID_LAYOUT, -1, "queue size " + size + " is not a power of 2 in 1.." + MAX_SIZE);
        }
        checkPart(mem, "descriptor table", layout.descriptorTable(), layout.descriptorTableBytes(), 16);
        checkPart(mem, "available ring", layout.availableRing(), layout.availableRingBytes(), 2);
        checkPart(mem, "used ring", layout.usedRing(), layout.usedRingBytes(), 4);
        return new Virtqueue(layout, features, nextAvail, nextUsed);
    }

    private static void checkPart(GuestMemory mem, String what, long gpa, long bytes, int alignment) throws VirtqueueException {
        if ((gpa & (alignment - 1)) != 0) {
            throw new VirtqueueException(Reason.INVALID_LAYOUT, -1, what + " at 0x" + Long.toHexString(gpa)
                    + " is not " + alignment + "-byte aligned");
        }
        if (!mem.contains(gpa, bytes)) {
            throw new VirtqueueException(Reason.INVALID_LAYOUT, -1, what + " 0x" + Long.toHexString(gpa) + " + "
                    + bytes + " is not inside one region of guest memory");
        }
    }

    public QueueLayout layout() {
        return layout;
    }

    public int size() {
        return layout.size();
    }

    /** Whether VIRTIO_RING_F_EVENT_IDX was negotiated. */
    public boolean eventIdx() {
        return eventIdx;
    }

    /** Whether VIRTIO_RING_F_INDIRECT_DESC was negotiated. */
    public boolean indirectDescriptors() {
        return indirect;
    }

    /** The available index of the next chain {@link #pop} takes (what vhost-user GET_VRING_BASE reports). */
    public int nextAvailIndex() {
        return nextAvail;
    }

    /** The used index the next {@link #addUsed} publishes into. */
    public int nextUsedIndex() {
        return nextUsed;
    }

    /** The fatal error this queue stopped on, or null while it is usable. */
    public VirtqueueException failure() {
        return broken;
    }

    // ---------------------------------------------------------------- available ring

    /**
     * The next available chain, validated, or null when the driver has made none available.
     * Throws {@link VirtqueueException} for a malformed chain (consumed: the next call goes on
     * with the following one) or a fatal ring error (every later call throws it again).
     */
    public DescriptorChain pop(GuestMemory mem) throws VirtqueueException {
        if (broken != null) {
            throw broken;
        }
        int pending = pending(mem);
        if (pending == 0 && eventIdx && notificationsEnabled) {
            // ask for a notification when the driver adds the next chain, then look once more:
            // a chain added in between would otherwise go unnoticed
            writeRing(mem, availEventAddress(), nextAvail);
            VarHandle.fullFence();
            pending = pending(mem);
        }
        if (pending == 0) {
            return null;
        }
        int head = readRing(mem, layout.availableRing() + 4 + 2L * (nextAvail & mask));
        nextAvail = (nextAvail + 1) & 0xffff;
        if (head > mask) {
            throw new VirtqueueException(Reason.HEAD_OUT_OF_RANGE, -1, "available ring entry names descriptor " + head
                    + " of a " + layout.size() + "-entry table");
        }
        try {
            return walk(mem, head);
        } catch (InternalError e) {
            // SIGBUS on a shared mapping whose file shrank (see GuestMemory)
            broken = new VirtqueueException(Reason.RING_NOT_ACCESSIBLE, head, "fault reading descriptors: " + e.getMessage());
            throw broken;
        }
    }

    /** Chains available and not yet popped; fails fatally when the driver's index jumped too far. */
    private int pending(GuestMemory mem) throws VirtqueueException {
        int availIdx = readRing(mem, layout.availableRing() + 2);
        VarHandle.acquireFence(); // ring entries and descriptors are read after the index
        int pending = (availIdx - nextAvail) & 0xffff;
        if (pending > layout.size()) {
            broken = new VirtqueueException(Reason.AVAIL_INDEX_JUMP, -1, "available index " + availIdx
                    + " is " + pending + " ahead of " + nextAvail + " in a queue of " + layout.size());
            throw broken;
        }
        return pending;
    }

    private DescriptorChain walk(GuestMemory mem, int head) throws VirtqueueException {
        MemorySegment table = ringSegment(mem, layout.descriptorTable(), layout.descriptorTableBytes());
        Chain chain = new Chain(head);
        int index = head;
        int count = 0;
        while (true) {
            if (++count > layout.size()) {
                throw chain.error(Reason.CHAIN_TOO_LONG, "more than " + layout.size() + " descriptors (a loop?)");
            }
            long at = (long) index * DESCRIPTOR_BYTES;
            // SAFETY (TOCTOU): each field is read once; only these locals are used afterwards
            long addr = table.get(U64, at);
            int len = table.get(U32, at + 8);
            int flags = table.get(U16, at + 12) & 0xffff;
            int next = table.get(U16, at + 14) & 0xffff;
            if ((flags & DESC_F_INDIRECT) != 0) {
                walkIndirect(mem, chain, addr, len, flags);
                break;
            }
            chain.add(mem, addr, len, flags);
            if ((flags & DESC_F_NEXT) == 0) {
                break;
            }
            if (next > mask) {
                throw chain.error(Reason.NEXT_OUT_OF_RANGE, "descriptor " + index + " chains to " + next
                        + " of a " + layout.size() + "-entry table");
            }
            index = next;
        }
        return chain.build();
    }

    private void walkIndirect(GuestMemory mem, Chain chain, long addr, int len, int flags) throws VirtqueueException {
        if (!indirect) {
            throw chain.error(Reason.INDIRECT_NOT_NEGOTIATED, "INDIRECT flag without VIRTIO_RING_F_INDIRECT_DESC");
        }
        if ((flags & DESC_F_NEXT) != 0) {
            throw chain.error(Reason.INDIRECT_WITH_NEXT, "descriptor has both INDIRECT and NEXT");
        }
        long bytes = Integer.toUnsignedLong(len);
        if (bytes == 0 || bytes % DESCRIPTOR_BYTES != 0) {
            throw chain.error(Reason.INDIRECT_BAD_LENGTH, "indirect table of " + bytes + " bytes");
        }
        // no alignment rule for indirect tables (virtio 1.2 §2.7.5.3): Linux kmallocs them 8-byte
        // aligned, and the descriptor fields are read unaligned-safe anyway
        long entries = bytes / DESCRIPTOR_BYTES;
        if (entries > layout.size()) {
            throw chain.error(Reason.INDIRECT_TOO_LONG, "indirect table of " + entries + " entries in a queue of " + layout.size());
        }
        MemorySegment table;
        try {
            table = mem.slice(addr, bytes);
        } catch (GuestMemoryException e) {
            throw chain.error(Reason.ADDRESS_OUT_OF_RANGE, "indirect table: " + e.getMessage());
        }
        int index = 0;
        int count = 0;
        while (true) {
            if (++count > entries) {
                throw chain.error(Reason.CHAIN_TOO_LONG, "more than the " + entries + " entries of the indirect table (a loop?)");
            }
            long at = (long) index * DESCRIPTOR_BYTES;
            long a = table.get(U64, at);
            int l = table.get(U32, at + 8);
            int f = table.get(U16, at + 12) & 0xffff;
            int next = table.get(U16, at + 14) & 0xffff;
            if ((f & DESC_F_INDIRECT) != 0) {
                throw chain.error(Reason.INDIRECT_NESTED, "INDIRECT inside indirect table entry " + index);
            }
            chain.add(mem, a, l, f);
            if ((f & DESC_F_NEXT) == 0) {
                return;
            }
            if (next >= entries) {
                throw chain.error(Reason.INDIRECT_NEXT_OUT_OF_RANGE, "indirect entry " + index + " chains to " + next
                        + " of " + entries);
            }
            index = next;
        }
    }

    /** A chain being walked: the buffers so far and their totals. */
    private static final class Chain {
        private final int head;
        private final List<MemorySegment> readable = new ArrayList<>();
        private final List<MemorySegment> writable = new ArrayList<>();
        private long readableLength;
        private long writableLength;
        private int descriptors;

        Chain(int head) {
            this.head = head;
        }

        void add(GuestMemory mem, long addr, int len, int flags) throws VirtqueueException {
            descriptors++;
            long bytes = Integer.toUnsignedLong(len);
            if (bytes == 0) {
                throw error(Reason.ZERO_LENGTH, "descriptor of length 0 at 0x" + Long.toHexString(addr));
            }
            boolean deviceWritable = (flags & DESC_F_WRITE) != 0;
            if (!deviceWritable && !writable.isEmpty()) {
                throw error(Reason.READABLE_AFTER_WRITABLE, "readable buffer at 0x" + Long.toHexString(addr)
                        + " after a writable one");
            }
            long total = (deviceWritable ? writableLength : readableLength) + bytes;
            if (total > MAX_CHAIN_BYTES) {
                throw error(Reason.LENGTH_OVERFLOW, (deviceWritable ? "writable" : "readable") + " bytes add up to " + total);
            }
            List<MemorySegment> views;
            try {
                views = mem.slices(addr, bytes);
            } catch (GuestMemoryException e) {
                throw error(Reason.ADDRESS_OUT_OF_RANGE, e.getMessage());
            }
            if (deviceWritable) {
                writable.addAll(views);
                writableLength = total;
            } else {
                for (MemorySegment v : views) {
                    readable.add(v.asReadOnly());
                }
                readableLength = total;
            }
        }

        VirtqueueException error(Reason reason, String detail) {
            return new VirtqueueException(reason, head, detail);
        }

        DescriptorChain build() {
            return new DescriptorChain(head, readable, writable, readableLength, writableLength, descriptors);
        }
    }

    // ---------------------------------------------------------------- used ring

    /**
     * Returns chain {@code head} to the driver with {@code len} bytes written (a u32: pass at most
     * the chain's writable length), publishing the used index. {@code head} must be a chain this
     * queue handed out (0..size-1).
     */
    public void addUsed(GuestMemory mem, int head, int len) throws VirtqueueException {
        if (head < 0 || head > mask) {
            throw new IllegalArgumentException("chain head " + head + " is not in 0.." + mask);
        }
        if (broken != null && broken.reason() == Reason.RING_NOT_ACCESSIBLE) {
            throw broken;
        }
        long elem = layout.usedRing() + 4 + 8L * (nextUsed & mask);
        try {
            mem.writeU32(elem, head);
            mem.writeU32(elem + 4, len);
            VarHandle.releaseFence(); // the element before the index
            nextUsed = (nextUsed + 1) & 0xffff;
            mem.writeU16(layout.usedRing() + 2, nextUsed);
        } catch (GuestMemoryException e) {
            throw inaccessible(e);
        }
    }

    /**
     * Whether the driver wants a used-buffer notification now, for the entries added since the
     * previous call: with VIRTIO_RING_F_EVENT_IDX, when the used index passed {@code used_event}
     * in that span; without it, unless the driver set {@link #AVAIL_F_NO_INTERRUPT}. False when
     * nothing was added since the previous call.
     */
    public boolean needsNotification(GuestMemory mem) throws VirtqueueException {
        VarHandle.fullFence(); // the used index is published before the driver's fields are read
        int old = signalledUsed;
        int now = nextUsed;
        signalledUsed = now;
        if (old == now) {
            return false;
        }
        if (!eventIdx) {
            return (readRing(mem, layout.availableRing()) & AVAIL_F_NO_INTERRUPT) == 0;
        }
        int usedEvent = readRing(mem, usedEventAddress());
        // vring_need_event: did the index step over used_event in (old, now]?
        return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }

    /**
     * Asks the driver for available-buffer notifications again (after
     * {@link #disableNotification}); returns whether chains are already waiting, which the
     * caller must then process (the notification for them may have been suppressed).
     */
    public boolean enableNotification(GuestMemory mem) throws VirtqueueException {
        notificationsEnabled = true;
        if (eventIdx) {
            writeRing(mem, availEventAddress(), nextAvail);
        } else {
            writeRing(mem, layout.usedRing(), 0);
        }
        VarHandle.fullFence();
        return pending(mem) > 0;
    }

    /**
     * Tells the driver that available-buffer notifications are not needed (a hint: without
     * EVENT_IDX it sets {@link #USED_F_NO_NOTIFY}; with it, {@code avail_event} is left behind).
     */
    public void disableNotification(GuestMemory mem) throws VirtqueueException {
        notificationsEnabled = false;
        if (!eventIdx) {
            writeRing(mem, layout.usedRing(), USED_F_NO_NOTIFY);
        }
    }

    private long usedEventAddress() {
        return layout.availableRing() + 4 + 2L * layout.size();
    }

    private long availEventAddress() {
        return layout.usedRing() + 4 + 8L * layout.size();
    }

    // ---------------------------------------------------------------- ring access

    private int readRing(GuestMemory mem, long gpa) throws VirtqueueException {
        try {
            return mem.readU16(gpa);
        } catch (GuestMemoryException e) {
            throw inaccessible(e);
        }
    }

    private void writeRing(GuestMemory mem, long gpa, int value) throws VirtqueueException {
        try {
            mem.writeU16(gpa, value);
        } catch (GuestMemoryException e) {
            throw inaccessible(e);
        }
    }

    private MemorySegment ringSegment(GuestMemory mem, long gpa, long bytes) throws VirtqueueException {
        try {
            return mem.slice(gpa, bytes);
        } catch (GuestMemoryException e) {
            throw inaccessible(e);
        }
    }

    private VirtqueueException inaccessible(GuestMemoryException e) {
        broken = new VirtqueueException(Reason.RING_NOT_ACCESSIBLE, -1, e.getMessage());
        return broken;
    }

    @Override
    public String toString() {
        return "Virtqueue[size " + layout.size() + ", avail " + nextAvail + ", used " + nextUsed
                + (broken != null ? ", broken: " + broken.reason() : "") + "]";
    }
}
