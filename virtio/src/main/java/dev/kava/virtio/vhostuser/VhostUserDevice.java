package dev.kava.virtio.vhostuser;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.queue.Virtqueue;
import dev.kava.virtio.queue.VirtqueueException;

/**
 * A device model served to an external VMM by {@link VhostUserBackend}: what a vhost-user-fs,
 * -blk or -net back-end implements. The backend owns the socket, the memory table, the rings and
 * their eventfds, and the thread; the device only says what it offers and handles its queues.
 *
 * <h2>Threads</h2>
 * Every method is called on the backend's one platform thread, never concurrently. While
 * {@link #handleQueue} runs, no message is processed, so memory and queues stay valid for the
 * duration of the call; they may be replaced or unmapped after it returns.
 *
 * <h2>Completing chains on other threads</h2>
 * A device may instead hand the chains it pops to threads of its own and return them later
 * through the {@link UsedRing} it is given by
 * {@link #handleQueue(int, Virtqueue, GuestMemory, UsedRing)}. The rule that keeps guest memory
 * valid for those threads: before the backend handles any front-end message (which may replace
 * or unmap memory, stop a ring or swap its eventfds) and before it releases a disconnected
 * front-end's resources, it calls {@link #quiesce()}, which must not return while any chain is
 * still being worked on. Between two messages, memory and rings do not change.
 */
public interface VhostUserDevice {
    /**
     * The virtio feature bits the device offers: device-type bits (0..23 and 41..63). The backend
     * adds the transport bits it implements (VIRTIO_F_VERSION_1, VIRTIO_RING_F_INDIRECT_DESC,
     * VIRTIO_RING_F_EVENT_IDX) and the vhost-user protocol-features bit, and drops any other
     * transport bit (24..40) it does not implement, such as VIRTIO_F_RING_PACKED.
     */
    long features();

    /**
     * Protocol features the device needs beyond those the backend always offers (MQ, REPLY_ACK,
     * RESET_DEVICE): {@code 1L << VhostUserBackend.PROTOCOL_F_CONFIG} when the front-end should
     * fetch the config space with GET_CONFIG (vhost-user-blk does), else 0.
     */
    long protocolFeatures();

    /** How many virtqueues the device has (GET_QUEUE_NUM); 1..255. */
    int numQueues();

    /** The largest queue size the device accepts (a power of 2, at most 32768). */
    int maxQueueSize();

    /** The device's configuration space as GET_CONFIG reads it (may be empty); read-only. */
    byte[] config();

    /** The features the front-end acknowledged (SET_FEATURES), the backend's bits included. */
    void acknowledgeFeatures(long features);

    /**
     * Queue {@code index} was kicked (or enabled with work pending): pop chains, handle them and
     * add them to the used ring. The backend signals the call eventfd afterwards when
     * {@link Virtqueue#needsNotification} says so. A {@link VirtqueueException} thrown here (or
     * any runtime exception) stops the ring and signals its error eventfd, the vhost-user form of
     * DEVICE_NEEDS_RESET; it does not end the connection.
     */
    void handleQueue(int index, Virtqueue queue, GuestMemory memory) throws VirtqueueException;

    /**
     * Queue {@code index} was kicked, as {@link #handleQueue(int, Virtqueue, GuestMemory)}; the
     * backend calls this form, holding {@code used}'s monitor. A device that returns chains from
     * threads of its own pops them here, hands them over and returns; its threads then call
     * {@link UsedRing#add}, which notifies the front-end. Chains it adds here itself with
     * {@link Virtqueue#addUsed} are notified by the backend after the call, as in the synchronous
     * form. The default is the synchronous form.
     */
    default void handleQueue(int index, Virtqueue queue, GuestMemory memory, UsedRing used) throws VirtqueueException {
        handleQueue(index, queue, memory);
    }

    /**
     * Returns once no chain popped earlier is still being worked on by a thread of the device's.
     * Called on the backend's thread before every front-end message and before a disconnected
     * front-end's memory is unmapped (see the class comment). The default does nothing: a
     * synchronous device has finished every chain when {@code handleQueue} returns.
     */
    default void quiesce() {
    }

    /** Back to the initial state: the front-end reset the device, or disconnected. */
    void reset();
}
