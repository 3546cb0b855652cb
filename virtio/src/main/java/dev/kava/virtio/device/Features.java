package dev.kava.virtio.device;

import dev.kava.virtio.queue.Virtqueue;

/** Feature bits that are not device-specific (virtio 1.2 §6: "Reserved Feature Bits"). */
public final class Features {
    /** VIRTIO_F_INDIRECT_DESC: descriptors may point at indirect tables. */
    public static final int RING_INDIRECT_DESC = Virtqueue.RING_F_INDIRECT_DESC;
    /** VIRTIO_F_EVENT_IDX: used_event / avail_event notification suppression. */
    public static final int RING_EVENT_IDX = Virtqueue.RING_F_EVENT_IDX;
    /** VIRTIO_F_VERSION_1: a virtio 1.x device; a virtio-mmio version 2 device requires it. */
    public static final int VERSION_1 = 32;
    /** VIRTIO_F_ACCESS_PLATFORM: the device sits behind an IOMMU (not offered). */
    public static final int ACCESS_PLATFORM = 33;
    /** VIRTIO_F_RING_PACKED: the packed ring layout (not offered: split rings only). */
    public static final int RING_PACKED = 34;
    /** The first and last bit of the range reserved for transport and ring features. */
    public static final int TRANSPORT_FIRST = 24;
    public static final int TRANSPORT_LAST = 40;

    /** What the split-ring transports here implement and always offer. */
    public static final long TRANSPORT_OFFERED = bit(VERSION_1) | bit(RING_INDIRECT_DESC) | bit(RING_EVENT_IDX);

    private Features() {}

    /** {@code 1L << n}. */
    public static long bit(int n) {
        if (n < 0 || n > 63) {
            throw new IllegalArgumentException("feature bit out of range: " + n);
        }
        return 1L << n;
    }

    /** Whether {@code bit} is set in {@code features}. */
    public static boolean has(long features, int bit) {
        return (features & bit(bit)) != 0;
    }

    /** The device-type bits of {@code features}: everything outside 24..40. */
    public static long deviceBits(long features) {
        long transport = ((1L << (TRANSPORT_LAST + 1)) - 1) & ~((1L << TRANSPORT_FIRST) - 1);
        return features & ~transport;
    }
}
