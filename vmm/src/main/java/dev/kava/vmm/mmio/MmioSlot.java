package dev.kava.vmm.mmio;

/**
 * Where one virtio-mmio device sits: its register window and its interrupt (a GSI of the IOAPIC),
 * announced to the guest on the kernel command line as {@link #kernelParameter()}
 * ({@code CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES}).
 */
public record MmioSlot(long base, long size, int irq) {
    public MmioSlot {
        if (base < 0 || size <= 0 || (size & 0xfff) != 0) {
            throw new IllegalArgumentException("bad virtio-mmio window 0x" + Long.toHexString(base) + " + " + size);
        }
        if (irq < 1 || irq > 23) {
            throw new IllegalArgumentException("virtio-mmio IRQ must be an IOAPIC pin 1..23: " + irq);
        }
    }

    /** {@code virtio_mmio.device=<size>@<base>:<irq>}, e.g. {@code virtio_mmio.device=4K@0xd0000000:5}. */
    public String kernelParameter() {
        String s = size % (1 << 20) == 0 ? (size >> 20) + "M" : size % 1024 == 0 ? (size >> 10) + "K" : Long.toString(size);
        return "virtio_mmio.device=" + s + "@0x" + Long.toHexString(base) + ":" + irq;
    }
}
