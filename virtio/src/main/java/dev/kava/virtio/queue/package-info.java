/**
 * The split virtqueue (virtio 1.2 §2.7), device side: {@link dev.kava.virtio.queue.Virtqueue}
 * takes validated {@link dev.kava.virtio.queue.DescriptorChain}s from the available ring and
 * returns them through the used ring, with EVENT_IDX and indirect descriptors. Everything the
 * guest wrote is checked as it is walked; violations are
 * {@link dev.kava.virtio.queue.VirtqueueException}s with a reason.
 */
package dev.kava.virtio.queue;
