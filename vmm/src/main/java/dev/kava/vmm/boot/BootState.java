package dev.kava.vmm.boot;

import java.util.List;

/**
 * What the boot processor starts with, as {@link LinuxBoot} laid it out: the 64-bit entry point,
 * RSI (the zero page, per the boot protocol), the stack, CR3 (the identity map), and the memory
 * map given to the kernel.
 */
public record BootState(long entry, long zeroPage, long stack, long pageTables, List<E820Entry> e820) {
    public BootState {
        e820 = List.copyOf(e820);
    }
}
