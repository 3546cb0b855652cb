/**
 * The guest physical address map ({@link dev.kava.vmm.memory.MemoryMap}): where RAM, the MMIO gap,
 * virtio-mmio windows and the interrupt controllers are, and how guest RAM is allocated
 * (memfd-backed, {@code MAP_NORESERVE}). Guest RAM itself is a
 * {@link dev.kava.virtio.memory.GuestMemory}, the one bounds-checked door to it.
 */
package dev.kava.vmm.memory;
