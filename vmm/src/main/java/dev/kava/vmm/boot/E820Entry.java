package dev.kava.vmm.boot;

/** One entry of the BIOS memory map the kernel reads from boot_params ({@code struct boot_e820_entry}). */
public record E820Entry(long address, long size, int type) {
    public static final int RAM = 1;
    public static final int RESERVED = 2;
    /** Bytes of one entry in boot_params. */
    public static final int BYTES = 20;

    public long end() {
        return address + size;
    }
}
