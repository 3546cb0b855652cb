/**
 * virtio-net: {@link dev.kava.virtio.net.VirtioNet} on a {@link dev.kava.virtio.net.NetBackend},
 * normally a {@link dev.kava.virtio.net.TapBackend} (a tap in the sandbox's network namespace),
 * with the virtio net header passed through for checksum and segmentation offloads.
 */
package dev.kava.virtio.net;
