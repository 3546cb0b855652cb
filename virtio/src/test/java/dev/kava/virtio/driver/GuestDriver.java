package dev.kava.virtio.driver;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.memory.GuestMemoryException;
import dev.kava.virtio.queue.QueueLayout;
import dev.kava.virtio.queue.Virtqueue;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A simulated guest driver for device tests, the way a guest kernel's virtio driver behaves, in
 * real guest memory: it lays out split rings, builds descriptor chains (direct, chained,
 * indirect), publishes them on the available ring and reads the used ring. Device tests drive a
 * device model with it instead of booting a guest (like Netty's EmbeddedChannel).
 *
 * <p>It also breaks the rules on purpose: {@link DriverQueue#writeDescriptor} and
 * {@link DriverQueue#publish} write anything, and named helpers make the classic attacks (loops,
 * out-of-range addresses and indexes, lying lengths, available index jumps, nested indirect
 * tables).
 *
 * <p>Memory comes from a bump allocator over the first region; nothing is freed. Everything here
 * throws {@link IllegalStateException} rather than checked exceptions: a test driver that fails
 * to write its own memory is a broken test.
 */
public final class GuestDriver implements AutoCloseable {
    /** Guest memory of {@link #GuestDriver()}. */
    public static final long DEFAULT_MEMORY = 16L << 20;

    private final GuestMemory memory;
    private final boolean ownsMemory;
    private long next;
    private final long limit;

    /** A driver with {@link #DEFAULT_MEMORY} bytes of anonymous guest memory at address 0. */
    public GuestDriver() {
        this(DEFAULT_MEMORY);
    }

    /** A driver with {@code memorySize} bytes of anonymous guest memory at address 0. */
    public GuestDriver(long memorySize) {
        this(GuestMemory.anonymous(memorySize), true);
    }

    /** A driver over existing memory (not closed by {@link #close()}), allocating in its first region. */
    public GuestDriver(GuestMemory memory) {
        this(memory, false);
    }

    private GuestDriver(GuestMemory memory, boolean owns) {
        this.memory = memory;
        this.ownsMemory = owns;
        GuestMemory.Region first = memory.regions().getFirst();
        // keep guest address 0 unused, as real drivers never hand it out
        this.next = first.guestAddress() + 4096;
        this.limit = first.guestEnd();
    }

    public GuestMemory memory() {
        return memory;
    }

    /** {@code bytes} of fresh (zero) guest memory aligned to {@code alignment}; returns its address. */
    public long allocate(long bytes, long alignment) {
        long at = (next + alignment - 1) & -alignment;
        if (Long.compareUnsigned(at + bytes, limit) > 0) {
            throw new IllegalStateException("guest driver out of memory");
        }
        next = at + bytes;
        return at;
    }

    /** A device-readable buffer holding {@code content}. */
    public Buffer readable(byte[] content) {
        long at = allocate(content.length, 8);
        write(at, content);
        return new Buffer(at, content.length, false);
    }

    /** A device-writable buffer of {@code length} zero bytes. */
    public Buffer writable(int length) {
        return new Buffer(allocate(length, 8), length, true);
    }

    public byte[] read(long gpa, int len) {
        byte[] b = new byte[len];
        try {
            memory.read(gpa, b, 0, len);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException(e);
        }
        return b;
    }

    public void write(long gpa, byte[] bytes) {
        try {
            memory.write(gpa, bytes, 0, bytes.length);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A queue of {@code size} descriptors with its three parts allocated (aligned, zeroed) here. */
    public DriverQueue queue(int size) {
        long desc = allocate(16L * size, 16);
        long avail = allocate(6 + 2L * size, 2);
        long used = allocate(6 + 8L * size, 4);
        return new DriverQueue(new QueueLayout(size, desc, avail, used));
    }

    /** A queue whose parts the test places (anywhere, even outside memory); rings inside memory are zeroed. */
    public DriverQueue queue(QueueLayout layout) {
        return new DriverQueue(layout);
    }

    @Override
    public void close() {
        if (ownsMemory) {
            memory.close();
        }
    }

    /** One buffer of a chain: where it is, how long the descriptor says it is, who writes it. */
    public record Buffer(long address, int length, boolean writable) {
        public static Buffer readable(long address, int length) {
            return new Buffer(address, length, false);
        }

        public static Buffer writable(long address, int length) {
            return new Buffer(address, length, true);
        }

        /** This buffer claiming another length (a lying descriptor). */
        public Buffer withLength(int length) {
            return new Buffer(address, length, writable);
        }
    }

    /** A raw descriptor, written as given. */
    public record Descriptor(long address, int length, int flags, int next) {}

    /** A used ring element. */
    public record Used(int id, int length) {}

    /** The driver side of one split virtqueue. */
    public final class DriverQueue {
        private final QueueLayout layout;
        private final Deque<Integer> free = new ArrayDeque<>();
        private final Map<Integer, List<Integer>> inFlight = new HashMap<>();
        private int availIdx;
        private int lastUsed;

        private DriverQueue(QueueLayout layout) {
            this.layout = layout;
            for (int i = 0; i < layout.size(); i++) {
                free.add(i);
            }
            zeroIfInside(layout.descriptorTable(), layout.descriptorTableBytes());
            zeroIfInside(layout.availableRing(), layout.availableRingBytes());
            zeroIfInside(layout.usedRing(), layout.usedRingBytes());
        }

        private void zeroIfInside(long gpa, long bytes) {
            if (memory.contains(gpa, bytes)) {
                write(gpa, new byte[(int) bytes]);
            }
        }

        public QueueLayout layout() {
            return layout;
        }

        public int size() {
            return layout.size();
        }

        /** The device side of this queue, as a device would create it. */
        public Virtqueue deviceQueue(long features) {
            try {
                return Virtqueue.create(memory, layout, features);
            } catch (dev.kava.virtio.queue.VirtqueueException e) {
                throw new IllegalStateException(e);
            }
        }

        /** Builds a chain of direct descriptors for {@code buffers}, in order, and publishes it; returns its head. */
        public int add(Buffer... buffers) {
            int head = chain(List.of(buffers));
            publish(head);
            return head;
        }

        /** Puts {@code buffers} in an indirect table referenced by one descriptor, and publishes it. */
        public int addIndirect(Buffer... buffers) {
            long table = indirectTable(buffers);
            int head = take();
            writeDescriptor(head, table, 16 * buffers.length, Virtqueue.DESC_F_INDIRECT, 0);
            inFlight.put(head, List.of(head));
            publish(head);
            return head;
        }

        /** Direct descriptors for {@code direct}, then one INDIRECT descriptor for {@code indirect} (§2.7.5.3.2). */
        public int addDirectThenIndirect(List<Buffer> direct, List<Buffer> indirect) {
            long table = indirectTable(indirect.toArray(Buffer[]::new));
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i <= direct.size(); i++) {
                ids.add(take());
            }
            for (int i = 0; i < direct.size(); i++) {
                Buffer b = direct.get(i);
                writeDescriptor(ids.get(i), b.address(), b.length(),
                        Virtqueue.DESC_F_NEXT | (b.writable() ? Virtqueue.DESC_F_WRITE : 0), ids.get(i + 1));
            }
            writeDescriptor(ids.getLast(), table, 16 * indirect.size(), Virtqueue.DESC_F_INDIRECT, 0);
            inFlight.put(ids.getFirst(), ids);
            publish(ids.getFirst());
            return ids.getFirst();
        }

        /** Writes an indirect table for {@code buffers} (entries chained 0→1→...) and returns its address. */
        public long indirectTable(Buffer... buffers) {
            Descriptor[] entries = new Descriptor[buffers.length];
            for (int i = 0; i < buffers.length; i++) {
                Buffer b = buffers[i];
                int flags = (b.writable() ? Virtqueue.DESC_F_WRITE : 0) | (i + 1 < buffers.length ? Virtqueue.DESC_F_NEXT : 0);
                entries[i] = new Descriptor(b.address(), b.length(), flags, i + 1 < buffers.length ? i + 1 : 0);
            }
            return rawTable(entries);
        }

        /** Writes {@code entries} as given into a new 16-byte-aligned table; returns its address. */
        public long rawTable(Descriptor... entries) {
            long table = allocate(16L * Math.max(1, entries.length), 16);
            for (int i = 0; i < entries.length; i++) {
                writeRaw(table + 16L * i, entries[i]);
            }
            return table;
        }

        private int chain(List<Buffer> buffers) {
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < buffers.size(); i++) {
                ids.add(take());
            }
            for (int i = 0; i < buffers.size(); i++) {
                Buffer b = buffers.get(i);
                boolean last = i + 1 == buffers.size();
                writeDescriptor(ids.get(i), b.address(), b.length(),
                        (b.writable() ? Virtqueue.DESC_F_WRITE : 0) | (last ? 0 : Virtqueue.DESC_F_NEXT), last ? 0 : ids.get(i + 1));
            }
            inFlight.put(ids.getFirst(), ids);
            return ids.getFirst();
        }

        private int take() {
            Integer id = free.poll();
            if (id == null) {
                throw new IllegalStateException("no free descriptors: take used ones first");
            }
            return id;
        }

        /** Writes descriptor {@code index} of the table as given (any values: the hostile path). */
        public void writeDescriptor(int index, long address, int length, int flags, int next) {
            writeRaw(layout.descriptorTable() + 16L * index, new Descriptor(address, length, flags, next));
        }

        private void writeRaw(long at, Descriptor d) {
            try {
                memory.writeU64(at, d.address());
                memory.writeU32(at + 8, d.length());
                memory.writeU16(at + 12, d.flags());
                memory.writeU16(at + 14, d.next());
            } catch (GuestMemoryException e) {
                throw new IllegalStateException(e);
            }
        }

        /** Puts {@code head} (any value) into the next available ring slot and increments the available index. */
        public void publish(int head) {
            try {
                memory.writeU16(layout.availableRing() + 4 + 2L * (availIdx % layout.size()), head);
                availIdx = (availIdx + 1) & 0xffff;
                memory.writeU16(layout.availableRing() + 2, availIdx);
            } catch (GuestMemoryException e) {
                throw new IllegalStateException(e);
            }
        }

        /** The available index the driver published last. */
        public int availIndex() {
            return availIdx;
        }

        /** Sets the available index (any value, no ring entries written). */
        public void setAvailIndex(int idx) {
            availIdx = idx & 0xffff;
            u16(layout.availableRing() + 2, availIdx);
        }

        /** Hostile: moves the available index {@code by} entries ahead without writing them. */
        public void jumpAvailIndex(int by) {
            setAvailIndex(availIdx + by);
        }

        /** The next used element, or null; frees the chain's descriptors. */
        public Used takeUsed() {
            if (usedIndex() == lastUsed) {
                return null;
            }
            long elem = layout.usedRing() + 4 + 8L * (lastUsed % layout.size());
            Used u;
            try {
                u = new Used(memory.readU32(elem), memory.readU32(elem + 4));
            } catch (GuestMemoryException e) {
                throw new IllegalStateException(e);
            }
            lastUsed = (lastUsed + 1) & 0xffff;
            List<Integer> ids = inFlight.remove(u.id());
            if (ids != null) {
                free.addAll(ids);
            }
            return u;
        }

        /** The used index the device published. */
        public int usedIndex() {
            return readU16(layout.usedRing() + 2);
        }

        /** The used ring's flags (the device's {@link Virtqueue#USED_F_NO_NOTIFY}). */
        public int usedFlags() {
            return readU16(layout.usedRing());
        }

        /** EVENT_IDX: the device's {@code avail_event}. */
        public int availEvent() {
            return readU16(layout.usedRing() + 4 + 8L * layout.size());
        }

        /** EVENT_IDX: asks for a used-buffer notification when the used index passes {@code usedEvent}. */
        public void setUsedEvent(int usedEvent) {
            u16(layout.availableRing() + 4 + 2L * layout.size(), usedEvent);
        }

        /**
         * EVENT_IDX: asks for a notification at the next used buffer ({@code used_event} = the used
         * index consumed so far), as a driver re-enabling its interrupts does.
         */
        public void armUsedEvent() {
            setUsedEvent(lastUsed);
        }

        /** Without EVENT_IDX: sets or clears {@link Virtqueue#AVAIL_F_NO_INTERRUPT}. */
        public void setNoInterrupt(boolean noInterrupt) {
            u16(layout.availableRing(), noInterrupt ? Virtqueue.AVAIL_F_NO_INTERRUPT : 0);
        }

        /**
         * Whether a driver that moved the available index from {@code oldIdx} to the current one
         * must notify the device (virtio 1.2 §2.7.10), given the device's suppression fields.
         */
        public boolean mustNotify(int oldIdx, boolean eventIdx) {
            if (!eventIdx) {
                return (usedFlags() & Virtqueue.USED_F_NO_NOTIFY) == 0;
            }
            int event = availEvent();
            return ((availIdx - event - 1) & 0xffff) < ((availIdx - oldIdx) & 0xffff);
        }

        // ------------------------------------------------------------ named attacks

        /** Publishes a chain of {@code length} descriptors whose last one links back to the first. */
        public int addLoop(Buffer buffer, int length) {
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < length; i++) {
                ids.add(take());
            }
            for (int i = 0; i < length; i++) {
                writeDescriptor(ids.get(i), buffer.address(), buffer.length(),
                        Virtqueue.DESC_F_NEXT | (buffer.writable() ? Virtqueue.DESC_F_WRITE : 0), ids.get((i + 1) % length));
            }
            publish(ids.getFirst());
            return ids.getFirst();
        }

        /** Publishes a chain whose INDIRECT table itself holds an INDIRECT entry. */
        public int addNestedIndirect(Buffer buffer) {
            long inner = indirectTable(buffer);
            long outer = rawTable(new Descriptor(buffer.address(), buffer.length(), Virtqueue.DESC_F_NEXT, 1),
                    new Descriptor(inner, 16, Virtqueue.DESC_F_INDIRECT, 0));
            int head = take();
            writeDescriptor(head, outer, 32, Virtqueue.DESC_F_INDIRECT, 0);
            publish(head);
            return head;
        }

        /** Publishes a one-descriptor INDIRECT chain with the table address, length and flags given. */
        public int addRawIndirect(long table, int tableLength, int flags) {
            int head = take();
            writeDescriptor(head, table, tableLength, Virtqueue.DESC_F_INDIRECT | flags, 0);
            publish(head);
            return head;
        }

        private int readU16(long gpa) {
            try {
                return memory.readU16(gpa);
            } catch (GuestMemoryException e) {
                throw new IllegalStateException(e);
            }
        }

        private void u16(long gpa, int value) {
            try {
                memory.writeU16(gpa, value);
            } catch (GuestMemoryException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
