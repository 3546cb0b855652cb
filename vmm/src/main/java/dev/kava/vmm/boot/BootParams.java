package dev.kava.vmm.boot;

/**
 * Offsets and values of {@code struct boot_params} (the "zero page", Linux
 * {@code Documentation/arch/x86/boot.rst} and {@code zero-page.rst}) that the boot code writes;
 * named after the C fields and checked against {@code <asm/bootparam.h>} by gcc in the boot
 * layout test.
 */
public final class BootParams {
    public static final int SIZE = 4096;
    public static final int EXT_RAMDISK_IMAGE = 0x0c0;
    public static final int EXT_RAMDISK_SIZE = 0x0c4;
    public static final int EXT_CMD_LINE_PTR = 0x0c8;
    public static final int E820_ENTRIES = 0x1e8;
    public static final int SENTINEL = 0x1ef;
    /** The setup header starts here ({@code hdr}), with these fields: */
    public static final int HDR = 0x1f1;
    public static final int HDR_SETUP_SECTS = 0x1f1;
    public static final int HDR_VID_MODE = 0x1fa;
    public static final int HDR_BOOT_FLAG = 0x1fe;
    public static final int HDR_HEADER = 0x202;
    public static final int HDR_VERSION = 0x206;
    public static final int HDR_TYPE_OF_LOADER = 0x210;
    public static final int HDR_LOADFLAGS = 0x211;
    public static final int HDR_CODE32_START = 0x214;
    public static final int HDR_RAMDISK_IMAGE = 0x218;
    public static final int HDR_RAMDISK_SIZE = 0x21c;
    public static final int HDR_HEAP_END_PTR = 0x224;
    public static final int HDR_CMD_LINE_PTR = 0x228;
    public static final int HDR_INITRD_ADDR_MAX = 0x22c;
    public static final int HDR_KERNEL_ALIGNMENT = 0x230;
    public static final int HDR_RELOCATABLE_KERNEL = 0x234;
    public static final int HDR_XLOADFLAGS = 0x236;
    public static final int HDR_CMDLINE_SIZE = 0x238;
    public static final int HDR_HARDWARE_SUBARCH = 0x23c;
    public static final int HDR_PREF_ADDRESS = 0x258;
    public static final int HDR_INIT_SIZE = 0x260;
    public static final int E820_TABLE = 0x2d0;
    /** {@code E820_MAX_ENTRIES_ZEROPAGE}. */
    public static final int E820_MAX = 128;

    /** {@code type_of_loader}: 0xff, "undefined" (no assigned boot loader id). */
    public static final int LOADER_UNDEFINED = 0xff;
    /** {@code loadflags}. */
    public static final int LOADED_HIGH = 0x01;
    public static final int KEEP_SEGMENTS = 0x40;
    public static final int CAN_USE_HEAP = 0x80;
    /** {@code heap_end_ptr}: the end of the setup heap, relative to the setup segment (boot protocol 2.01). */
    public static final int HEAP_END = 0xfe00;
    /** {@code cmdline_size} a kernel without a setup header (ELF) gets: x86's COMMAND_LINE_SIZE. */
    public static final int DEFAULT_CMDLINE_SIZE = 2048;
    /** {@code kernel_alignment} written for an ELF kernel (what Firecracker writes). */
    public static final int ELF_KERNEL_ALIGNMENT = 0x0100_0000;

    private BootParams() {}
}
