package dev.kava.virtio.queue;

/**
 * Where a split virtqueue lives in guest memory (virtio 1.2 §2.7): its size and the guest physical
 * addresses of its three parts, as a driver configured them. Nothing is checked here: the values
 * come from the guest; {@link Virtqueue#create} validates them.
 *
 * @param size            number of descriptors (a power of 2, at most {@link Virtqueue#MAX_SIZE})
 * @param descriptorTable the descriptor table, 16-byte aligned, {@code 16 * size} bytes
 * @param availableRing   the available ("driver") ring, 2-byte aligned, {@code 6 + 2 * size} bytes
 * @param usedRing        the used ("device") ring, 4-byte aligned, {@code 6 + 8 * size} bytes
 */
public record QueueLayout(int size, long descriptorTable, long availableRing, long usedRing) {
    /** Bytes of the descriptor table. */
    public long descriptorTableBytes() {
        return 16L * size;
    }

    /** Bytes of the available ring, {@code used_event} included. */
    public long availableRingBytes() {
        return 6 + 2L * size;
    }

    /** Bytes of the used ring, {@code avail_event} included. */
    public long usedRingBytes() {
        return 6 + 8L * size;
    }
}
