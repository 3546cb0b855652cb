package dev.kava.virtio.device;

/** What runs on the device event loop when a watched descriptor is ready. */
@FunctionalInterface
public interface EventHandler {
    /** {@code events} is the epoll event mask reported for the descriptor. */
    void onEvent(int events);
}
