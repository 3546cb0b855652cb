package dev.kava.vmm.boot;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.virtio.memory.GuestMemoryException;
import dev.kava.vmm.VmmException;
import dev.kava.vmm.memory.MemoryMap;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Lays out a 64-bit Linux boot (the x86 boot protocol, "64-bit boot protocol" section) in guest
 * memory: the kernel, the initrd, the command line, boot_params with the e820 map, the identity
 * page tables, the GDT and the MP table. Pure with respect to KVM: it only writes a
 * {@link GuestMemory}, so every field can be checked without a VM.
 *
 * <p>Everything is checked to fit before it is written: the kernel and initrd must lie inside RAM
 * and not overlap the boot tables, the command line must fit the kernel's {@code cmdline_size}.
 */
public final class LinuxBoot {
    private static final long PAGE = 4096;

    private LinuxBoot() {}

    /** The memory map the guest gets for {@code mem}: low RAM up to the EBDA, the EBDA reserved, RAM from 1 MiB. */
    public static List<E820Entry> e820(GuestMemory mem) {
        List<E820Entry> map = new ArrayList<>();
        for (GuestMemory.Region r : mem.regions()) {
            if (r.guestAddress() == 0) {
                map.add(new E820Entry(0, BootLayout.EBDA_START, E820Entry.RAM));
                map.add(new E820Entry(BootLayout.EBDA_START, 0xa0000 - BootLayout.EBDA_START, E820Entry.RESERVED));
                if (r.size() > BootLayout.HIMEM_START) {
                    map.add(new E820Entry(BootLayout.HIMEM_START, r.size() - BootLayout.HIMEM_START, E820Entry.RAM));
                }
            } else {
                map.add(new E820Entry(r.guestAddress(), r.size(), E820Entry.RAM));
            }
        }
        if (map.size() > BootParams.E820_MAX) {
            throw new VmmException("too many memory ranges for the e820 map: " + map.size());
        }
        return List.copyOf(map);
    }

    /**
     * Loads {@code kernel} (and {@code initrd}, may be null) into {@code mem} and writes every boot
     * table for {@code cpus} processors; returns what the boot vCPU starts with.
     */
    public static BootState load(GuestMemory mem, KernelImage kernel, byte[] initrd, String commandLine, int cpus) {
        if (mem.regions().isEmpty() || mem.regions().getFirst().guestAddress() != 0
                || mem.regions().getFirst().size() < MemoryMap.MIN_RAM) {
            throw new VmmException("guest RAM must start at 0 with at least " + (MemoryMap.MIN_RAM >> 20) + " MiB");
        }
        long lowEnd = mem.regions().getFirst().size();
        List<E820Entry> e820 = e820(mem);
        byte[] zeroPage = new byte[BootParams.SIZE];
        ByteBuffer z = ByteBuffer.wrap(zeroPage).order(ByteOrder.LITTLE_ENDIAN);
        int cmdlineSize;
        long initrdMax;
        try {
            switch (kernel) {
                case KernelImage.BzImage bz -> {
                    long end = BootLayout.HIMEM_START + bz.kernel().length;
                    // a non-relocatable kernel decompresses itself to pref_address and needs init_size there
                    long need = Math.max(end, bz.prefAddress() + bz.initSize());
                    if (need > lowEnd) {
                        throw new VmmException("the kernel needs guest RAM up to 0x" + Long.toHexString(need)
                                + " (init_size " + bz.initSize() + " from 0x" + Long.toHexString(bz.prefAddress()) + ")");
                    }
                    mem.write(BootLayout.HIMEM_START, bz.kernel(), 0, bz.kernel().length);
                    System.arraycopy(bz.setupHeader(), 0, zeroPage, BootParams.HDR, bz.setupHeader().length);
                    cmdlineSize = bz.cmdlineSize();
                    initrdMax = bz.initrdAddrMax();
                }
                case KernelImage.ElfKernel elf -> {
                    for (KernelImage.Segment s : elf.segments()) {
                        if (s.physicalAddress() < BootLayout.HIMEM_START || s.physicalAddress() + s.memorySize() > lowEnd) {
                            throw new VmmException("ELF kernel segment at 0x" + Long.toHexString(s.physicalAddress())
                                    + " (+0x" + Long.toHexString(s.memorySize()) + ") is outside guest RAM above 1 MiB");
                        }
                        mem.write(s.physicalAddress(), s.data(), 0, s.data().length);
                        long zeros = s.memorySize() - s.data().length;
                        for (long at = 0; at < zeros; at += PAGE) {
                            int n = (int) Math.min(PAGE, zeros - at);
                            mem.write(s.physicalAddress() + s.data().length + at, new byte[n], 0, n);
                        }
                    }
                    z.putShort(BootParams.HDR_BOOT_FLAG, (short) KernelImage.BzImage.BOOT_FLAG);
                    z.putInt(BootParams.HDR_HEADER, KernelImage.BzImage.MAGIC);
                    z.putInt(BootParams.HDR_KERNEL_ALIGNMENT, BootParams.ELF_KERNEL_ALIGNMENT);
                    cmdlineSize = BootParams.DEFAULT_CMDLINE_SIZE;
                    initrdMax = 0x7fff_ffffL;
                }
            }

            byte[] cmdline = commandLine.getBytes(StandardCharsets.US_ASCII);
            long limit = Math.min(BootLayout.CMDLINE_MAX - 1, Integer.toUnsignedLong(cmdlineSize));
            if (cmdline.length > limit || commandLine.indexOf('\0') >= 0 || !StandardCharsets.US_ASCII.newEncoder().canEncode(commandLine)) {
                throw new VmmException("kernel command line of " + cmdline.length + " bytes does not fit the kernel's "
                        + limit + " (or is not plain ASCII)");
            }
            mem.write(BootLayout.CMDLINE, new byte[(int) (cmdline.length + 1L)], 0, cmdline.length + 1);
            mem.write(BootLayout.CMDLINE, cmdline, 0, cmdline.length);

            long initrdAt = 0;
            if (initrd != null && initrd.length > 0) {
                long top = Math.min(lowEnd, initrdMax + 1);
                initrdAt = (top - initrd.length) & ~(PAGE - 1);
                long kernelEnd = kernelEnd(kernel);
                if (initrdAt < kernelEnd || initrd.length > top) {
                    throw new VmmException("the initrd (" + initrd.length + " bytes) does not fit between the kernel and 0x"
                            + Long.toHexString(top));
                }
                mem.write(initrdAt, initrd, 0, initrd.length);
            }

            z.put(BootParams.HDR_TYPE_OF_LOADER, (byte) BootParams.LOADER_UNDEFINED);
            z.put(BootParams.HDR_LOADFLAGS, (byte) ((z.get(BootParams.HDR_LOADFLAGS) & 0xff) | BootParams.CAN_USE_HEAP));
            z.putShort(BootParams.HDR_HEAP_END_PTR, (short) BootParams.HEAP_END);
            z.putInt(BootParams.HDR_CMD_LINE_PTR, (int) BootLayout.CMDLINE);
            z.putInt(BootParams.EXT_CMD_LINE_PTR, 0);
            z.putInt(BootParams.HDR_RAMDISK_IMAGE, (int) initrdAt);
            z.putInt(BootParams.HDR_RAMDISK_SIZE, initrd == null ? 0 : initrd.length);
            z.putInt(BootParams.EXT_RAMDISK_IMAGE, 0);
            z.putInt(BootParams.EXT_RAMDISK_SIZE, 0);
            z.put(BootParams.E820_ENTRIES, (byte) e820.size());
            for (int i = 0; i < e820.size(); i++) {
                E820Entry e = e820.get(i);
                int at = BootParams.E820_TABLE + i * E820Entry.BYTES;
                z.putLong(at, e.address()).putLong(at + 8, e.size()).putInt(at + 16, e.type());
            }
            mem.write(BootLayout.ZERO_PAGE, zeroPage, 0, zeroPage.length);
        } catch (GuestMemoryException e) {
            throw new VmmException("cannot load the kernel: " + e.getMessage(), e);
        }
        long cr3 = PageTables.write(mem);
        Gdt.write(mem);
        MpTable.write(mem, cpus);
        return new BootState(kernel.entry(), BootLayout.ZERO_PAGE, BootLayout.BOOT_STACK, cr3, e820);
    }

    /**
     * Lays out a bare program instead of a kernel (the small guest programs of the KVM tests): the
     * same page tables, GDT and MP table, {@code code} at {@code address}, entered in 64-bit mode
     * there with the boot stack.
     */
    public static BootState loadProgram(GuestMemory mem, byte[] code, long address, int cpus) {
        if (address < BootLayout.HIMEM_START) {
            throw new VmmException("programs load at 1 MiB or above, not 0x" + Long.toHexString(address));
        }
        try {
            mem.write(address, code, 0, code.length);
        } catch (GuestMemoryException e) {
            throw new VmmException("cannot load the program: " + e.getMessage(), e);
        }
        long cr3 = PageTables.write(mem);
        Gdt.write(mem);
        MpTable.write(mem, cpus);
        return new BootState(address, BootLayout.ZERO_PAGE, BootLayout.BOOT_STACK, cr3, e820(mem));
    }

    private static long kernelEnd(KernelImage kernel) {
        return switch (kernel) {
            case KernelImage.BzImage bz -> Math.max(BootLayout.HIMEM_START + bz.kernel().length, bz.prefAddress() + bz.initSize());
            case KernelImage.ElfKernel elf -> elf.segments().stream()
                    .mapToLong(s -> s.physicalAddress() + s.memorySize()).max().orElse(BootLayout.HIMEM_START);
        };
    }
}
