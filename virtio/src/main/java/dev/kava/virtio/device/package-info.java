/**
 * The device side of virtio, common to every device model: the {@link dev.kava.virtio.device.VirtioDevice}
 * interface a transport drives (features, configuration space, activation with
 * {@link dev.kava.virtio.device.DeviceContext}, queue notifications, reset), the
 * {@link dev.kava.virtio.device.ActiveQueue} that applies the ring-error rules the same way for
 * every device, the {@link dev.kava.virtio.device.VirtioInterrupt} a device reports through, and
 * the {@link dev.kava.virtio.device.DeviceEventLoop} (one epoll platform thread) that runs queue
 * notifications and back-end events.
 *
 * <h2>Threads and locking</h2>
 * A transport serializes every call into one device (configuration accesses from vCPU threads,
 * notifications and back-end events from the event loop), so device models are plain state
 * machines. Blocking native calls (epoll_wait, file I/O of virtio-blk) happen on the event loop's
 * platform thread, never on a virtual thread.
 *
 * <h2>Trust</h2>
 * The driver is the guest, and the guest is hostile: descriptor chains are validated as they are
 * walked ({@link dev.kava.virtio.queue.Virtqueue}), every request field is copied out of guest
 * memory once before it is checked and used, every size that bounds an allocation or a loop is a
 * constant of ours, and broken ring protocol ends in DEVICE_NEEDS_RESET, never in an exception
 * that reaches the VMM.
 */
package dev.kava.virtio.device;
