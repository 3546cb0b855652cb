/**
 * The virtio-mmio transport ({@link dev.kava.vmm.mmio.MmioTransport}): the register file a guest
 * driver programs, with queue notifications as ioeventfds and interrupts as irqfds, and the
 * {@link dev.kava.vmm.mmio.MmioSlot} (window and IRQ) announced on the kernel command line.
 */
package dev.kava.vmm.mmio;
