package dev.kava.vmm.boot;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.memory.GuestMemoryException;
import dev.kava.vmm.VmmException;
import dev.kava.vmm.kvm.DescriptorTable;
import dev.kava.vmm.kvm.Segment;

/**
 * The boot GDT: what the 64-bit boot protocol requires, {@code __BOOT_CS} (0x10) a flat 64-bit
 * code segment and {@code __BOOT_DS} (0x18) a flat data segment, plus a TSS descriptor (0x20) so
 * that the task register is valid on entry. The same descriptors become the vCPU's segment
 * registers ({@link #segment}), so what KVM holds and what is in guest memory agree.
 */
public final class Gdt {
    public static final int CODE_SELECTOR = 0x10;
    public static final int DATA_SELECTOR = 0x18;
    public static final int TSS_SELECTOR = 0x20;
    /** Access/flags words (bits 40-55 of a descriptor minus the limit nibble). */
    public static final int CODE64_FLAGS = 0xa09b; // G, L, present, DPL 0, code execute/read, accessed
    public static final int DATA_FLAGS = 0xc093;   // G, D/B, present, DPL 0, data read/write, accessed
    public static final int TSS_FLAGS = 0x808b;    // G, present, busy 32-bit TSS
    /** The five entries: null, null, code, data, TSS. */
    public static final long[] ENTRIES = {
        0, 0, descriptor(CODE64_FLAGS, 0, 0xfffff), descriptor(DATA_FLAGS, 0, 0xfffff), descriptor(TSS_FLAGS, 0, 0xfffff)};

    private Gdt() {}

    /** A segment descriptor from its flags, base and 20-bit limit. */
    public static long descriptor(int flags, long base, long limit) {
        return ((base & 0xff00_0000L) << 32)
                | ((flags & 0xf0ffL) << 40)
                | ((limit & 0xf_0000L) << 32)
                | ((base & 0x00ff_ffffL) << 16)
                | (limit & 0xffffL);
    }

    /** Writes the GDT at {@link BootLayout#GDT} and an empty IDT at {@link BootLayout#IDT}. */
    public static void write(GuestMemory mem) {
        try {
            for (int i = 0; i < ENTRIES.length; i++) {
                mem.writeU64(BootLayout.GDT + 8L * i, ENTRIES[i]);
            }
            mem.writeU64(BootLayout.IDT, 0);
        } catch (GuestMemoryException e) {
            throw new VmmException("cannot write the GDT: " + e.getMessage(), e);
        }
    }

    public static DescriptorTable gdtr() {
        return new DescriptorTable(BootLayout.GDT, ENTRIES.length * 8 - 1);
    }

    public static DescriptorTable idtr() {
        return new DescriptorTable(BootLayout.IDT, 7);
    }

    /** The segment register KVM must hold for GDT entry {@code index}: the descriptor decoded. */
    public static Segment segment(int index) {
        long e = ENTRIES[index];
        long base = ((e >>> 16) & 0xff_ffffL) | (((e >>> 56) & 0xff) << 24);
        long rawLimit = (e & 0xffff) | (((e >>> 48) & 0xf) << 16);
        boolean g = ((e >>> 55) & 1) != 0;
        long limit = g ? (rawLimit << 12) | 0xfff : rawLimit;
        return new Segment(base, (int) limit, index * 8, (int) ((e >>> 40) & 0xf), ((e >>> 47) & 1) != 0,
                (int) ((e >>> 45) & 3), ((e >>> 54) & 1) != 0, ((e >>> 44) & 1) != 0, ((e >>> 53) & 1) != 0, g,
                ((e >>> 52) & 1) != 0, false);
    }
}
