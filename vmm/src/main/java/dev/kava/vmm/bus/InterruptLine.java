package dev.kava.vmm.bus;

/**
 * One interrupt input of the VM (a GSI of the in-kernel IOAPIC, wired through an irqfd): an edge
 * on it interrupts the guest without any exit. Thread-safe, non-blocking.
 */
@FunctionalInterface
public interface InterruptLine {
    /** Raises an edge. */
    void trigger();
}
