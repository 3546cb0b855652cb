package dev.kava.virtio.queue;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One request the driver made available: a validated descriptor chain as scatter-gather lists.
 *
 * <p>Every segment lies inside guest memory (validated when the chain was walked); the readable
 * ones are read-only views, in the driver's order, and all of them come before the writable ones
 * in the chain. They are views, not copies: the guest can change the bytes while the device reads
 * them, so a device copies what it validates. When done, the device returns the chain with
 * {@link Virtqueue#addUsed(dev.kava.virtio.memory.GuestMemory, int, int)} using {@link #head()}.
 *
 * @param head            the index of the chain's first descriptor, for the used ring
 * @param readable        device-readable buffers (driver to device), read-only views
 * @param writable        device-writable buffers (device to driver)
 * @param readableLength  the total bytes of {@code readable}
 * @param writableLength  the total bytes of {@code writable}
 * @param descriptors     how many descriptors the chain had (indirect ones and their table entries)
 */
public record DescriptorChain(int head, List<MemorySegment> readable, List<MemorySegment> writable,
                              long readableLength, long writableLength, int descriptors) {
    public DescriptorChain {
        readable = List.copyOf(readable);
        writable = List.copyOf(writable);
    }
}
