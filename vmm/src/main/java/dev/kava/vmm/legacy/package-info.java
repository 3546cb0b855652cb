/**
 * The legacy PC devices a Linux guest expects on I/O ports: the {@link dev.kava.vmm.legacy.Serial16550}
 * console (COM1) and the {@link dev.kava.vmm.legacy.I8042} controller, whose reset command ends the
 * VM. The PIC, IOAPIC and PIT are KVM's in-kernel ones.
 */
package dev.kava.vmm.legacy;
