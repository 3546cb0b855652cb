package dev.kava.virtio.vhostuser;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.DescriptorChain;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test device: answers every chain by copying its readable bytes, upper-cased, into its
 * writable buffers; records what the backend asked of it. {@link #failNext} makes the next
 * handleQueue throw, as a buggy device would.
 */
final class RecordingDevice implements VhostUserDevice {
    final int queues;
    final AtomicInteger resets = new AtomicInteger();
    final AtomicLong acknowledged = new AtomicLong(-1);
    final List<Integer> handled = new CopyOnWriteArrayList<>();
    final List<String> requests = new CopyOnWriteArrayList<>();
    volatile boolean failNext;

    RecordingDevice(int queues) {
        this.queues = queues;
    }

    @Override
    public long features() {
        return 1L << 5 | 1L << 34; // a device bit, and VIRTIO_F_RING_PACKED, which the backend must not offer
    }

    @Override
    public long protocolFeatures() {
        return 1L << VhostUserBackend.PROTOCOL_F_CONFIG;
    }

    @Override
    public int numQueues() {
        return queues;
    }

    @Override
    public int maxQueueSize() {
        return 256;
    }

    @Override
    public byte[] config() {
        return "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    @Override
    public void acknowledgeFeatures(long features) {
        acknowledged.set(features);
    }

    @Override
    public void handleQueue(int index, Virtqueue queue, GuestMemory memory) throws VirtqueueException {
        handled.add(index);
        if (failNext) {
            failNext = false;
            throw new IllegalStateException("device bug");
        }
        DescriptorChain c;
        while ((c = queue.pop(memory)) != null) {
            StringBuilder text = new StringBuilder();
            for (MemorySegment s : c.readable()) {
                text.append(new String(s.toArray(ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.UTF_8));
            }
            requests.add(text.toString());
            byte[] out = text.toString().toUpperCase(java.util.Locale.ROOT).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            int written = 0;
            for (MemorySegment w : c.writable()) {
                int n = (int) Math.min(w.byteSize(), out.length - written);
                MemorySegment.copy(out, written, w, ValueLayout.JAVA_BYTE, 0, n);
                written += n;
            }
            queue.addUsed(memory, c.head(), written);
        }
    }

    @Override
    public void reset() {
        resets.incrementAndGet();
    }
}
