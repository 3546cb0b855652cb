package dev.kava.vmm.boot;

/**
 * Where the boot code puts things in low guest memory (all below 1 MiB, in the first RAM range):
 *
 * <pre>
 *   0x0500  GDT (5 entries: null, null, 64-bit code 0x10, data 0x18, TSS 0x20)
 *   0x0540  IDT (empty: interrupts stay disabled until the kernel loads its own)
 *   0x7000  boot_params, the "zero page"
 *   0x8ff0  boot stack top (grows down)
 *   0x9000  PML4, 0xa000 PDPT, 0xb000-0xefff four page directories: 0-4 GiB identity, 2 MiB pages
 *   0x20000 kernel command line
 *   0x9fc00 MP floating pointer and configuration table (the last KiB of base memory, 639 KiB,
 *           where Linux's MP table scan looks), reserved in the e820 map
 *   0x100000 the kernel (bzImage protected-mode part; an ELF vmlinux goes where its headers say)
 * </pre>
 */
public final class BootLayout {
    public static final long GDT = 0x500;
    public static final long IDT = 0x540;
    public static final long ZERO_PAGE = 0x7000;
    public static final long BOOT_STACK = 0x8ff0;
    public static final long PML4 = 0x9000;
    public static final long PDPT = 0xa000;
    public static final long PD = 0xb000;
    /** Page directories: one per GiB of the identity map. */
    public static final int PD_COUNT = 4;
    public static final long CMDLINE = 0x20000;
    /** Room for the command line (the kernel's own limit, cmdline_size, may be smaller). */
    public static final long CMDLINE_MAX = 0x10000;
    public static final long MPTABLE = 0x9fc00;
    /** The end of conventional memory: the EBDA and BIOS area that follow are not RAM to the guest. */
    public static final long EBDA_START = 0x9fc00;
    public static final long HIMEM_START = 0x100000;

    private BootLayout() {}
}
