/**
 * How devices meet vCPUs: {@link dev.kava.vmm.bus.IoBus} (the port and MMIO address spaces, ranges
 * to {@link dev.kava.vmm.bus.BusDevice}s) and {@link dev.kava.vmm.bus.InterruptLine} (an irqfd
 * into the in-kernel IOAPIC). A vCPU exit is an address and some bytes; the bus finds the device.
 */
package dev.kava.vmm.bus;
