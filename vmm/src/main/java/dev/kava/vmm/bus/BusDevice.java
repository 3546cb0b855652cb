package dev.kava.vmm.bus;

/**
 * A device on a port or MMIO bus: what a vCPU exit for its address range is handed to. Offsets
 * are relative to the device's base; {@code data} is 1-8 bytes, little-endian as on the bus.
 *
 * <p>Everything here comes from the guest: offsets, widths and values are untrusted. A device
 * answers what it does not implement with zeros (reads) or ignores it (writes); it never throws
 * for guest input. Implementations are thread-safe: several vCPUs may access a device at once.
 */
public interface BusDevice {
    /** A read of {@code data.length} bytes at {@code offset}: fill {@code data}. */
    void read(long offset, byte[] data);

    /** A write of {@code data} at {@code offset}. */
    void write(long offset, byte[] data);
}
