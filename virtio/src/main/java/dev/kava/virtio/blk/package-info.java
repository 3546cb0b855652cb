/**
 * virtio-blk: {@link dev.kava.virtio.blk.VirtioBlock}, a disk backed by a raw image file or a host
 * block device ({@link dev.kava.virtio.blk.BlockConfig}), read-only or read-write, with flush,
 * GET_ID, discard and write-zeroes.
 */
package dev.kava.virtio.blk;
