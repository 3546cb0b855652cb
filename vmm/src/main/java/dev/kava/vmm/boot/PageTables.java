package dev.kava.vmm.boot;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.memory.GuestMemoryException;
import dev.kava.vmm.VmmException;

/**
 * The initial page tables: guest physical 0-4 GiB identity-mapped with 2 MiB pages (PML4 → one
 * PDPT → four page directories of 512 large pages each), enough for the kernel, the boot tables,
 * and the MMIO gap (the 64-bit boot protocol asks for an identity map of the kernel, the zero page
 * and the command line). 2 MiB pages because PVM, this project's test machines' KVM, has no 1 GiB
 * pages.
 */
public final class PageTables {
    /** Entry bits. */
    public static final long PRESENT = 1;
    public static final long WRITABLE = 1 << 1;
    public static final long PAGE_SIZE_2M = 1 << 7;
    public static final long LARGE_PAGE = 2L << 20;

    private PageTables() {}

    /** Writes the tables at {@link BootLayout#PML4}, {@link BootLayout#PDPT} and {@link BootLayout#PD}; returns CR3. */
    public static long write(GuestMemory mem) {
        try {
            mem.write(BootLayout.PML4, new byte[4096], 0, 4096);
            mem.write(BootLayout.PDPT, new byte[4096], 0, 4096);
            mem.writeU64(BootLayout.PML4, BootLayout.PDPT | PRESENT | WRITABLE);
            for (int gib = 0; gib < BootLayout.PD_COUNT; gib++) {
                long pd = BootLayout.PD + gib * 4096L;
                mem.writeU64(BootLayout.PDPT + gib * 8L, pd | PRESENT | WRITABLE);
                for (int i = 0; i < 512; i++) {
                    long physical = ((long) gib << 30) | ((long) i * LARGE_PAGE);
                    mem.writeU64(pd + i * 8L, physical | PRESENT | WRITABLE | PAGE_SIZE_2M);
                }
            }
            return BootLayout.PML4;
        } catch (GuestMemoryException e) {
            throw new VmmException("cannot write the page tables: " + e.getMessage(), e);
        }
    }
}
