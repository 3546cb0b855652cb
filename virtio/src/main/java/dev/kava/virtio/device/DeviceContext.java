package dev.kava.virtio.device;

import dev.kava.virtio.memory.GuestMemory;
import java.util.List;
import java.util.Objects;

/**
 * What a device gets when the driver sets DRIVER_OK: everything it needs to run, valid until the
 * transport calls {@link VirtioDevice#reset()}.
 *
 * @param features  the negotiated features (the device's bits the driver accepted, and the
 *                  transport bits)
 * @param memory    the guest's RAM; the only way to it
 * @param queues    one entry per queue of the device, in index order; a queue the driver did not
 *                  enable is there but {@linkplain ActiveQueue#enabled() disabled}
 * @param interrupt where the device reports used buffers, config changes and fatal errors
 * @param events    where the device registers the descriptors of its back-end
 */
public record DeviceContext(long features, GuestMemory memory, List<ActiveQueue> queues, VirtioInterrupt interrupt,
                            EventRegistry events) {
    public DeviceContext {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(interrupt, "interrupt");
        Objects.requireNonNull(events, "events");
        queues = List.copyOf(queues);
    }

    /** Queue {@code index}. */
    public ActiveQueue queue(int index) {
        return queues.get(index);
    }

    /** Whether feature {@code bit} was negotiated. */
    public boolean has(int bit) {
        return Features.has(features, bit);
    }
}
