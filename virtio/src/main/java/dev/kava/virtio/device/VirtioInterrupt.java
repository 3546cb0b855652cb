package dev.kava.virtio.device;

/**
 * How a device tells its driver something happened; the transport turns it into its own form
 * (virtio-mmio: a bit in InterruptStatus and an edge on the device's interrupt line).
 *
 * <p>Implementations are thread-safe and never block; calling one is cheap enough for every
 * batch of used buffers.
 */
public interface VirtioInterrupt {
    /** Queue {@code queue} has new used buffers and its driver wants to hear about them. */
    void usedBuffers(int queue);

    /** The device's configuration space changed. */
    void configChanged();

    /**
     * The device cannot go on until the driver resets it (virtio 1.2 §2.1.2): the transport sets
     * DEVICE_NEEDS_RESET in the status and sends a configuration change notification. The device
     * stops processing; {@code reason} goes to the log and the device's metrics.
     */
    void needsReset(String reason);
}
