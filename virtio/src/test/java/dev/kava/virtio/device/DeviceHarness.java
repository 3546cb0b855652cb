package dev.kava.virtio.device;

import dev.kava.linux.Fd;
import dev.kava.virtio.driver.GuestDriver;
import dev.kava.virtio.driver.GuestDriver.DriverQueue;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Drives one {@link VirtioDevice} the way a transport and a guest driver would, without a VM:
 * real guest memory and split rings from the {@link GuestDriver}, the device activated with the
 * negotiated features, a real {@link DeviceEventLoop} for its back-end descriptors, and a
 * {@link RecordingInterrupt}. Every call into the device holds one lock, as a transport does.
 *
 * <p>The event loop runs on the test's thread through {@link #pump} / {@link #awaitUntil}, so
 * tests are deterministic; nothing here sleeps for sequencing.
 */
public final class DeviceHarness implements AutoCloseable {
    private final GuestDriver driver;
    private final VirtioDevice device;
    private final DeviceEventLoop loop = DeviceEventLoop.create();
    private final RecordingInterrupt interrupt = new RecordingInterrupt();
    private final List<DriverQueue> queues = new ArrayList<>();
    private final List<ActiveQueue> active = new ArrayList<>();
    private final Object lock = new Object();
    private final long negotiated;

    /** Activates {@code device} with all its offered features and queues of {@code queueSize}. */
    public DeviceHarness(VirtioDevice device, int queueSize) {
        this(device, -1L, queueSize, new GuestDriver());
    }

    /**
     * Activates {@code device}; the driver accepts {@code driverFeatures} of what is offered (the
     * transport bits included).
     */
    public DeviceHarness(VirtioDevice device, long driverFeatures, int queueSize, GuestDriver driver) {
        this.driver = driver;
        this.device = device;
        long offered = device.deviceFeatures() | Features.TRANSPORT_OFFERED;
        this.negotiated = offered & driverFeatures;
        if (!device.acceptsFeatures(negotiated)) {
            throw new IllegalStateException("the device refused features 0x" + Long.toHexString(negotiated));
        }
        int size = Math.min(queueSize, device.maxQueueSize());
        for (int i = 0; i < device.queueCount(); i++) {
            DriverQueue q = driver.queue(size);
            queues.add(q);
            try {
                active.add(new ActiveQueue(i, Virtqueue.create(driver.memory(), q.layout(), negotiated), driver.memory(), interrupt));
            } catch (VirtqueueException e) {
                throw new IllegalStateException(e);
            }
        }
        synchronized (lock) {
            device.activate(new DeviceContext(negotiated, driver.memory(), active, interrupt, new Serialized()));
        }
    }

    /** The registry the device sees: handlers run under the harness lock, like a transport's. */
    private final class Serialized implements EventRegistry {
        @Override
        public void add(Fd fd, int events, EventHandler handler) {
            loop.add(fd, events, ev -> {
                synchronized (lock) {
                    handler.onEvent(ev);
                }
            });
        }

        @Override
        public void modify(Fd fd, int events) {
            loop.modify(fd, events);
        }

        @Override
        public void remove(Fd fd) {
            loop.remove(fd);
        }
    }

    public GuestDriver driver() {
        return driver;
    }

    public DriverQueue queue(int index) {
        return queues.get(index);
    }

    public ActiveQueue activeQueue(int index) {
        return active.get(index);
    }

    public RecordingInterrupt interrupt() {
        return interrupt;
    }

    public long negotiated() {
        return negotiated;
    }

    public DeviceEventLoop loop() {
        return loop;
    }

    /** The driver notifies queue {@code index} (the device handles it on this thread). */
    public void notifyQueue(int index) {
        synchronized (lock) {
            device.queueNotify(index);
        }
    }

    /** Runs the event loop once on this thread, waiting up to {@code millis} for an event. */
    public int pump(int millis) {
        return loop.runOnce(millis);
    }

    /** Pumps the event loop until {@code condition} holds; fails after {@code timeout}. */
    public void awaitUntil(BooleanSupplier condition, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what);
            }
            pump(10);
        }
    }

    /** The next used element of queue {@code index}, pumping the loop until there is one. */
    public GuestDriver.Used awaitUsed(int index, Duration timeout) {
        GuestDriver.Used[] u = new GuestDriver.Used[1];
        awaitUntil(() -> (u[0] = queues.get(index).takeUsed()) != null, timeout, "a used buffer on queue " + index);
        return u[0];
    }

    /** Runs {@code r} holding the device lock (for reset and inspection). */
    public void locked(Runnable r) {
        synchronized (lock) {
            r.run();
        }
    }

    /**
     * Resets the device, as a driver's reset does, and closes the loop and the driver's memory; the
     * device stays open, for a new harness to activate it again.
     */
    public void resetAndDetach() {
        synchronized (lock) {
            try {
                device.reset();
            } finally {
                loop.close();
                driver.close();
            }
        }
    }

    /** Resets and closes the device, the loop and the driver's memory. */
    @Override
    public void close() {
        synchronized (lock) {
            try {
                device.reset();
                device.close();
            } finally {
                loop.close();
                driver.close();
            }
        }
    }
}
