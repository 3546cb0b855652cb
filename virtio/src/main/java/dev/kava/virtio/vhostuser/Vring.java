package dev.kava.virtio.vhostuser;

import dev.kava.linux.Fd;
import dev.kava.virtio.queue.Virtqueue;

/**
 * The back-end state of one vring: what the front-end configured, its eventfds, and, once started,
 * its {@link Virtqueue}. States (vhost-user "Ring states"): stopped ({@code queue == null}),
 * started and disabled, started and enabled. A failed ring stays started but is not processed.
 */
final class Vring {
    final int index;
    /** SET_VRING_NUM; 0 until set. */
    int size;
    /** SET_VRING_ADDR, in front-end user addresses; valid when {@code addressed}. */
    long descUser;
    long availUser;
    long usedUser;
    boolean addressed;
    /** SET_VRING_BASE: the available index to start from. */
    int base;
    Fd kick;
    /** Volatile: a device's worker threads signal it through {@link UsedRing}. */
    volatile Fd call;
    Fd err;
    boolean enabled;
    Virtqueue queue;
    /** The used side of {@link #queue} as devices see it; replaced (and the old one retired) with the queue. */
    UsedRing used;
    /** Volatile: set by whichever thread finds the ring broken, the backend's or a device worker. */
    volatile boolean failed;

    Vring(int index) {
        this.index = index;
    }

    boolean started() {
        return queue != null;
    }
}
