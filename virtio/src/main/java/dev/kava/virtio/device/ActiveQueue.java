package dev.kava.virtio.device;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.DescriptorChain;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;

/**
 * One queue of an activated device: its {@link Virtqueue}, the guest memory it lives in, and the
 * rules every device follows when the driver breaks the ring protocol, in one place.
 *
 * <ul>
 *   <li>A malformed chain (a loop, a buffer outside guest memory, a zero length, a bad indirect
 *       table...) has been consumed from the available ring; it goes back to the driver at once
 *       with used length 0 and {@link #pop()} moves on to the next one (virtio lets the device
 *       refuse a buffer; the driver sees nothing written). It is counted in
 *       {@link #badChains()}.</li>
 *   <li>A fatal ring error (the available index jumped ahead by more than the queue size, an
 *       entry naming a descriptor beyond the table, a ring no longer in guest memory) stops the
 *       queue: {@link #pop()} returns null from then on and the device is reported with
 *       {@link VirtioInterrupt#needsReset}.</li>
 * </ul>
 * Not thread-safe: used by the device, which its transport serializes.
 */
public final class ActiveQueue {
    private final int index;
    private final Virtqueue queue;
    private final GuestMemory memory;
    private final VirtioInterrupt interrupt;
    private long badChains;
    private String failure;

    /**
     * @param queue null for a queue the driver did not enable
     */
    public ActiveQueue(int index, Virtqueue queue, GuestMemory memory, VirtioInterrupt interrupt) {
        this.index = index;
        this.queue = queue;
        this.memory = memory;
        this.interrupt = interrupt;
    }

    public int index() {
        return index;
    }

    /** Whether the driver enabled this queue. */
    public boolean enabled() {
        return queue != null;
    }

    /** The queue size the driver chose, 0 when not enabled. */
    public int size() {
        return queue == null ? 0 : queue.size();
    }

    /** Whether the queue stopped on a fatal error. */
    public boolean failed() {
        return failure != null;
    }

    /** Malformed chains returned unused so far. */
    public long badChains() {
        return badChains;
    }

    /** The next valid chain, or null when the driver has made none available (or the queue failed). */
    public DescriptorChain pop() {
        if (queue == null || failure != null) {
            return null;
        }
        while (true) {
            try {
                return queue.pop(memory);
            } catch (VirtqueueException e) {
                if (e.reason().fatal() || e.head() < 0) {
                    fail("queue " + index + ": " + e.getMessage());
                    return null;
                }
                badChains++;
                if (!complete(e.head(), 0)) {
                    return null;
                }
            }
        }
    }

    /** Returns {@code chain} to the driver with {@code written} bytes written into its writable part. */
    public void complete(DescriptorChain chain, long written) {
        long len = Math.max(0, Math.min(written, chain.writableLength()));
        complete(chain.head(), (int) len);
    }

    private boolean complete(int head, int written) {
        if (queue == null || failure != null) {
            return false;
        }
        try {
            queue.addUsed(memory, head, written);
            return true;
        } catch (VirtqueueException e) {
            fail("queue " + index + ": " + e.getMessage());
            return false;
        }
    }

    /** After a batch of {@link #complete}s: interrupts the driver if it asked for it. */
    public void notifyDriver() {
        if (queue == null || failure != null) {
            return;
        }
        try {
            if (queue.needsNotification(memory)) {
                interrupt.usedBuffers(index);
            }
        } catch (VirtqueueException e) {
            fail("queue " + index + ": " + e.getMessage());
        }
    }

    /** Stops the queue and asks the driver for a reset. */
    public void fail(String reason) {
        if (failure == null) {
            failure = reason;
            interrupt.needsReset(reason);
        }
    }

    /** Why the queue failed, or null. */
    public String failure() {
        return failure;
    }

    @Override
    public String toString() {
        return "ActiveQueue[" + index + ", " + (queue == null ? "disabled" : queue) + (failure != null ? ", failed" : "") + "]";
    }
}
