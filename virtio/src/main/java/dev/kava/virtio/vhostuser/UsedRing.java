package dev.kava.virtio.vhostuser;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The used side of one started virtqueue, for a device that returns chains from threads of its
 * own after {@link VhostUserDevice#handleQueue(int, Virtqueue, GuestMemory, UsedRing)} returned.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #add} is thread-safe: it puts the chain on the used ring and notifies the driver
 *       (the front-end's call eventfd) when the driver wants a notification (EVENT_IDX or
 *       NO_INTERRUPT), all under this object's monitor. The backend holds the same monitor while
 *       it runs {@code handleQueue}, so the device pops chains and its workers return others
 *       without two threads ever touching the {@link Virtqueue} at once.</li>
 *   <li>An instance belongs to one queue and one memory table. When either is replaced or the ring
 *       stops (GET_VRING_BASE, RESET_DEVICE, a disconnect), the backend first calls
 *       {@link VhostUserDevice#quiesce()}, which waits for the device's workers, and then
 *       {@link #retire retires} the instance: a later {@link #add} does nothing and returns false.
 *       So even a buggy device never writes a used ring it no longer owns.</li>
 *   <li>A used ring that cannot be written (the front-end's memory went away) fails the ring as a
 *       device error does (the vhost-user backend signals its error eventfd), from the calling
 *       thread; later adds return false.</li>
 * </ul>
 */
public final class UsedRing {
    private final Virtqueue queue;
    private final GuestMemory memory;
    private final Runnable notifyDriver;
    private final Consumer<Exception> onFailure;
    private final BooleanSupplier stopped;
    /** Guarded by this. */
    private boolean retired;
    /** Guarded by this. */
    private boolean failed;

    UsedRing(Virtqueue queue, GuestMemory memory, Runnable notifyDriver, Consumer<Exception> onFailure, BooleanSupplier stopped) {
        this.queue = queue;
        this.memory = memory;
        this.notifyDriver = notifyDriver;
        this.onFailure = onFailure;
        this.stopped = stopped;
    }

    /**
     * A used ring outside a vhost-user backend (an in-process VMM, whose {@code notifyDriver}
     * raises the queue's interrupt, or a device test): {@code onFailure} hears a ring that cannot
     * be written, once.
     */
    public static UsedRing of(Virtqueue queue, GuestMemory memory, Runnable notifyDriver, Consumer<Exception> onFailure) {
        return new UsedRing(Objects.requireNonNull(queue, "queue"), Objects.requireNonNull(memory, "memory"),
                Objects.requireNonNull(notifyDriver, "notifyDriver"), Objects.requireNonNull(onFailure, "onFailure"), () -> false);
    }

    /**
     * Returns chain {@code head} with {@code length} bytes written, and notifies the driver when it
     * asked for it. Returns false (and does nothing) when the ring was stopped, failed or
     * reconfigured since this instance was handed out.
     */
    public boolean add(int head, int length) {
        Exception failure;
        synchronized (this) {
            if (retired || failed || stopped.getAsBoolean()) {
                return false;
            }
            try {
                queue.addUsed(memory, head, length);
                if (queue.needsNotification(memory)) {
                    notifyDriver.run();
                }
                return true;
            } catch (VirtqueueException e) {
                failure = e;
            } catch (InternalError e) {
                // SIGBUS: the front-end truncated the file behind its memory
                failure = new IllegalStateException(e.getMessage(), e);
            }
            failed = true;
        }
        onFailure.accept(failure);
        return false;
    }

    /** Whether {@link #add} still reaches the ring. */
    public synchronized boolean isActive() {
        return !retired && !failed && !stopped.getAsBoolean();
    }

    /**
     * Makes every later {@link #add} a no-op; waits for an {@code add} in progress. The owner of
     * the queue calls it after the device was quiesced, before the queue or memory goes away.
     */
    public synchronized void retire() {
        retired = true;
    }
}
