package dev.kava.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.vmm.VmmException;
import dev.kava.vmm.memory.MemoryMap;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** ELF vmlinux loading with a synthetic ELF64 image, and malformed images refused. */
class ElfKernelTest {
    /** An ELF64 x86-64 EXEC with one PT_LOAD: {@code data} at {@code paddr}, {@code memsz} bytes in memory. */
    static byte[] elf(long entry, long paddr, byte[] data, long memsz, int machine) {
        ByteBuffer b = ByteBuffer.allocate(64 + 56 + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}).put(new byte[8]);
        b.putShort((short) 2).putShort((short) machine).putInt(1).putLong(entry).putLong(64).putLong(0)
                .putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) 1).putShort((short) 0)
                .putShort((short) 0).putShort((short) 0);
        b.putInt(1).putInt(5).putLong(120).putLong(0xffff_ffff_8100_0000L).putLong(paddr)
                .putLong(data.length).putLong(memsz).putLong(0x200000);
        b.put(data);
        return b.array();
    }

    @Test
    void segmentsGoToTheirPhysicalAddressesAndTheRestIsZeroed() throws Exception {
        byte[] code = {(byte) 0xf4, 1, 2, 3, 4, 5, 6, 7};
        KernelImage.ElfKernel k = assertInstanceOf(KernelImage.ElfKernel.class,
                KernelImage.parse(elf(0x1000000, 0x1000000, code, 0x3000, 62)));
        assertEquals(0x1000000, k.entry());
        try (GuestMemory mem = GuestMemory.anonymous(MemoryMap.ramRanges(64L << 20))) {
            mem.write(0x1000000 + 100, new byte[] {9, 9}, 0, 2); // junk where the bss goes
            BootState s = LinuxBoot.load(mem, k, null, "console=ttyS0", 1);
            assertEquals(0x1000000, s.entry(), "e_entry is the physical startup_64");
            byte[] got = new byte[8];
            mem.read(0x1000000, got, 0, 8);
            assertArrayEquals(code, got);
            assertEquals(0, mem.readU16(0x1000000 + 100), "memsz beyond filesz is zeroed");
            assertEquals(0xAA55, mem.readU16(BootLayout.ZERO_PAGE + BootParams.HDR_BOOT_FLAG));
            assertEquals(0x53726448, mem.readU32(BootLayout.ZERO_PAGE + BootParams.HDR_HEADER));
            assertEquals(BootParams.ELF_KERNEL_ALIGNMENT, mem.readU32(BootLayout.ZERO_PAGE + BootParams.HDR_KERNEL_ALIGNMENT));
            assertEquals(BootLayout.CMDLINE, mem.readU32(BootLayout.ZERO_PAGE + BootParams.HDR_CMD_LINE_PTR));
        }
    }

    @Test
    void malformedImagesAreRefused() {
        assertThrows(VmmException.class, () -> KernelImage.parse(elf(0, 0x1000000, new byte[8], 8, 3)), "i386");
        assertThrows(VmmException.class, () -> KernelImage.parse(elf(0, 0x1000000, new byte[8], 4, 62)), "memsz < filesz");
        byte[] bad = elf(0, 0x1000000, new byte[8], 8, 62);
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putLong(64 + 8, 1L << 40); // p_offset past the file
        assertThrows(VmmException.class, () -> KernelImage.parse(bad));
        byte[] badPh = elf(0, 0x1000000, new byte[8], 8, 62);
        ByteBuffer.wrap(badPh).order(ByteOrder.LITTLE_ENDIAN).putLong(32, 1L << 40); // e_phoff past the file
        assertThrows(VmmException.class, () -> KernelImage.parse(badPh));
        assertThrows(VmmException.class, () -> KernelImage.parse(new byte[100]), "neither ELF nor bzImage");
        try (GuestMemory mem = GuestMemory.anonymous(MemoryMap.ramRanges(16L << 20))) {
            KernelImage outside = KernelImage.parse(elf(0, 0x2000000, new byte[8], 8, 62));
            assertThrows(VmmException.class, () -> LinuxBoot.load(mem, outside, null, "", 1), "beyond RAM");
            KernelImage low = KernelImage.parse(elf(0, 0x7000, new byte[8], 8, 62));
            assertThrows(VmmException.class, () -> LinuxBoot.load(mem, low, null, "", 1), "over the boot tables");
        }
    }

    @Test
    void aTruncatedOrOldBzImageIsRefused() {
        byte[] b = new byte[0x1000];
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        h.putShort(0x1fe, (short) 0xAA55).putInt(0x202, 0x53726448).putShort(0x206, (short) 0x0206);
        assertThrows(VmmException.class, () -> KernelImage.parse(b), "protocol 2.06: no 64-bit entry");
        h.putShort(0x206, (short) 0x020f);
        b[0x211] = 1;
        assertThrows(VmmException.class, () -> KernelImage.parse(b), "no XLF_KERNEL_64");
        h.putShort(0x236, (short) 1);
        b[0x1f1] = (byte) 200;
        assertThrows(VmmException.class, () -> KernelImage.parse(b), "setup larger than the file");
    }
}
