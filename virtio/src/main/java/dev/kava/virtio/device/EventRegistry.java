package dev.kava.virtio.device;

import dev.kava.linux.Fd;

/**
 * Descriptors a device wants watched (a tap, sockets, a console input) and what to run when they
 * are ready. Handlers run on the device event loop's thread, one at a time; a transport wraps
 * them so that they never run concurrently with the device's other entry points.
 *
 * <p>A descriptor is registered once; {@link #modify} changes the events it is watched for (0
 * keeps it registered but silent); {@link #remove} forgets it (before the descriptor is closed).
 */
public interface EventRegistry {
    /** Watches {@code fd} for the epoll {@code events}; {@code handler} runs when they occur. */
    void add(Fd fd, int events, EventHandler handler);

    /** Changes the events {@code fd} is watched for. */
    void modify(Fd fd, int events);

    /** Stops watching {@code fd}; a no-op if it is not watched. */
    void remove(Fd fd);
}
