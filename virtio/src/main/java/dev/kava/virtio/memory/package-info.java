/**
 * Guest memory: {@link dev.kava.virtio.memory.GuestMemory}, the one type through which kava reads
 * and writes a guest's RAM, with every access bounds-checked against the mapped regions and
 * refusals reported as {@link dev.kava.virtio.memory.GuestMemoryException}.
 */
package dev.kava.virtio.memory;
