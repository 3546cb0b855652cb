package dev.kava.virtio.rng;

import dev.kava.virtio.device.ActiveQueue;
import dev.kava.virtio.device.Buffers;
import dev.kava.virtio.device.DeviceContext;
import dev.kava.virtio.device.DeviceType;
import dev.kava.virtio.device.VirtioDevice;
import dev.kava.virtio.queue.DescriptorChain;
import java.security.SecureRandom;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * virtio-rng (virtio 1.2 §5.4): one request queue whose device-writable buffers the device fills
 * with random bytes from the host ({@link SecureRandom}, which reads the kernel's CSPRNG).
 *
 * <p>Hostile drivers: a chain without writable buffers gets used length 0; the bytes written per
 * request are capped at {@link #MAX_BYTES_PER_REQUEST} (the spec lets the device write less than
 * offered), so a guest offering a huge buffer cannot make the host produce gigabytes at once.
 */
public final class VirtioRng implements VirtioDevice {
    /** Most bytes one request gets. */
    public static final int MAX_BYTES_PER_REQUEST = 64 * 1024;
    /** Largest queue size offered. */
    public static final int QUEUE_SIZE = 256;

    private final Consumer<byte[]> source;
    private ActiveQueue queue;
    private long bytesServed;

    /** A device drawing from a {@link SecureRandom}. */
    public VirtioRng() {
        this(new SecureRandom()::nextBytes);
    }

    /** A device drawing from {@code source} (tests). */
    public VirtioRng(Consumer<byte[]> source) {
        this.source = Objects.requireNonNull(source, "source");
    }

    @Override
    public DeviceType type() {
        return DeviceType.ENTROPY;
    }

    @Override
    public long deviceFeatures() {
        return 0;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int maxQueueSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return 0;
    }

    @Override
    public void readConfig(int offset, byte[] dst) {
        // no configuration space
    }

    @Override
    public void writeConfig(int offset, byte[] src) {
        // no configuration space
    }

    @Override
    public boolean acceptsFeatures(long features) {
        return true;
    }

    @Override
    public void activate(DeviceContext context) {
        queue = context.queue(0);
    }

    @Override
    public void queueNotify(int index) {
        ActiveQueue q = queue;
        if (q == null || index != 0) {
            return;
        }
        DescriptorChain chain;
        while ((chain = q.pop()) != null) {
            int n = (int) Math.min(chain.writableLength(), MAX_BYTES_PER_REQUEST);
            byte[] random = new byte[n];
            source.accept(random);
            int written = Buffers.write(chain.writable(), 0, random, 0, n);
            bytesServed += written;
            q.complete(chain, written);
        }
        q.notifyDriver();
    }

    /** Random bytes handed to the guest so far. */
    public long bytesServed() {
        return bytesServed;
    }

    @Override
    public void reset() {
        queue = null;
    }

    @Override
    public void close() {
        reset();
    }
}
