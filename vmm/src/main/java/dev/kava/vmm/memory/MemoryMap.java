package dev.kava.vmm.memory;

import dev.kava.virtio.memory.GuestMemory;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest physical address map of a kava VM (x86-64), Firecracker-like:
 *
 * <pre>
 *   0x0000_0000 ..  RAM (the boot tables live low: see dev.kava.vmm.boot.BootLayout)
 *   0xC000_0000 .. 0xFFFF_FFFF  the 32-bit MMIO gap, never RAM:
 *       0xD000_0000 + n * 0x1000   virtio-mmio device n
 *       0xFEC0_0000                IOAPIC (in-kernel)
 *       0xFEE0_0000                local APICs (in-kernel)
 *       0xFFFB_C000 .. 0xFFFF_FFFF KVM's identity-map and TSS pages
 *   0x1_0000_0000 ..  RAM beyond the first 3 GiB
 * </pre>
 * RAM is one memfd ({@link GuestMemory#memfd}), mapped {@code MAP_SHARED | MAP_NORESERVE}: a guest
 * page costs host memory only once touched, and the file can be handed to a vhost-user back-end.
 */
public final class MemoryMap {
    public static final long MMIO_GAP_START = 0xC000_0000L;
    public static final long MMIO_GAP_END = 0x1_0000_0000L;
    public static final long VIRTIO_MMIO_BASE = 0xD000_0000L;
    /** Bytes of each virtio-mmio device window (registers end at 0x100 + config space). */
    public static final long VIRTIO_MMIO_SIZE = 0x1000;
    /** The most virtio-mmio devices (each with its own window and IRQ). */
    public static final int MAX_VIRTIO_DEVICES = 16;
    public static final long IOAPIC_ADDRESS = 0xFEC0_0000L;
    public static final long LAPIC_ADDRESS = 0xFEE0_0000L;
    /** The smallest and largest RAM this VMM builds. */
    public static final long MIN_RAM = 16L << 20;
    public static final long MAX_RAM = 1L << 40;

    private MemoryMap() {}

    /** The guest physical ranges {@code bytes} of RAM occupy: below the MMIO gap, then above 4 GiB. */
    public static List<GuestMemory.Range> ramRanges(long bytes) {
        if (bytes < MIN_RAM || bytes > MAX_RAM || bytes % (2L << 20) != 0) {
            throw new IllegalArgumentException("guest RAM must be a multiple of 2 MiB in " + (MIN_RAM >> 20) + " MiB.."
                    + (MAX_RAM >> 30) + " GiB: " + bytes);
        }
        List<GuestMemory.Range> ranges = new ArrayList<>(2);
        long low = Math.min(bytes, MMIO_GAP_START);
        ranges.add(new GuestMemory.Range(0, low));
        if (bytes > low) {
            ranges.add(new GuestMemory.Range(MMIO_GAP_END, bytes - low));
        }
        return List.copyOf(ranges);
    }

    /** Guest RAM of {@code bytes} in one memfd, untouched (it costs nothing until the guest writes). */
    public static GuestMemory allocate(String name, long bytes) {
        return GuestMemory.memfd(name, ramRanges(bytes));
    }

    /** The guest physical address of virtio-mmio device {@code n}'s window. */
    public static long virtioMmioAddress(int n) {
        if (n < 0 || n >= MAX_VIRTIO_DEVICES) {
            throw new IllegalArgumentException("virtio-mmio device index must be 0.." + (MAX_VIRTIO_DEVICES - 1) + ": " + n);
        }
        return VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SIZE;
    }

    /** Whether {@code [gpa, gpa + len)} is in the MMIO gap (no RAM there). */
    public static boolean inMmioGap(long gpa, long len) {
        return gpa >= MMIO_GAP_START && len >= 0 && gpa + len <= MMIO_GAP_END;
    }
}
