package dev.kava.vmm.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.vmm.VmmException;
import dev.kava.vmm.cpu.BootCpu;
import dev.kava.vmm.cpu.X86;
import dev.kava.vmm.kvm.DescriptorTable;
import dev.kava.vmm.kvm.Registers;
import dev.kava.vmm.kvm.Segment;
import dev.kava.vmm.kvm.SpecialRegisters;
import dev.kava.vmm.memory.MemoryMap;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The whole 64-bit boot layout built from the real guest kernel ({@code ./kava prepare} puts it at
 * {@value #KERNEL}) into anonymous guest memory, every field checked against the x86 boot protocol
 * (Documentation/arch/x86/boot.rst), the page-table format, the GDT descriptor format and the
 * MultiProcessor Specification 1.4. No KVM needed.
 */
class BootLayoutTest {
    static final String KERNEL = "/var/cache/kava/current/bzImage";
    private static final String CMDLINE = "console=ttyS0 reboot=k panic=1 root=/dev/vda ro virtio_mmio.device=4K@0xd0000000:5";
    private static final long RAM = 256L << 20;

    private byte[] file;
    private GuestMemory mem;
    private BootState state;
    private byte[] initrd;

    @BeforeEach
    void boot() throws Exception {
        Path kernel = Path.of(KERNEL);
        if (!Files.isReadable(kernel)) {
            System.out.println("SKIP BootLayoutTest: no guest kernel at " + KERNEL + " (run ./kava prepare to build it)");
        }
        Assumptions.assumeTrue(Files.isReadable(kernel), "no guest kernel at " + KERNEL + " (./kava prepare builds it)");
        file = Files.readAllBytes(kernel);
        mem = GuestMemory.anonymous(MemoryMap.ramRanges(RAM));
        initrd = new byte[10_000];
        for (int i = 0; i < initrd.length; i++) {
            initrd[i] = (byte) (i * 31);
        }
        state = LinuxBoot.load(mem, KernelImage.parse(file), initrd, CMDLINE, 2);
    }

    @AfterEach
    void close() {
        if (mem != null) {
            mem.close();
        }
    }

    private ByteBuffer zeroPage() throws Exception {
        byte[] z = new byte[BootParams.SIZE];
        mem.read(BootLayout.ZERO_PAGE, z, 0, z.length);
        return ByteBuffer.wrap(z).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void theSetupHeaderIsCopiedAndFilledAsTheBootProtocolSays() throws Exception {
        ByteBuffer z = zeroPage();
        ByteBuffer f = le(file);
        assertEquals(0xAA55, z.getShort(BootParams.HDR_BOOT_FLAG) & 0xffff, "boot_flag");
        assertEquals(0x53726448, z.getInt(BootParams.HDR_HEADER), "header: \"HdrS\"");
        int version = z.getShort(BootParams.HDR_VERSION) & 0xffff;
        assertEquals(f.getShort(0x206) & 0xffff, version, "version copied from the image");
        assertTrue(version >= 0x020c, "2.12+ for the 64-bit entry: 0x" + Integer.toHexString(version));
        assertEquals(file[0x1f1], z.get(BootParams.HDR_SETUP_SECTS), "setup_sects copied");
        int headerEnd = 0x202 + (file[0x201] & 0xff);
        byte[] copied = new byte[headerEnd - BootParams.HDR];
        z.get(BootParams.HDR, copied);
        byte[] original = Arrays.copyOfRange(file, BootParams.HDR, headerEnd);
        for (int off : new int[] {BootParams.HDR_TYPE_OF_LOADER, BootParams.HDR_LOADFLAGS, BootParams.HDR_RAMDISK_IMAGE,
            BootParams.HDR_RAMDISK_SIZE, BootParams.HDR_HEAP_END_PTR, BootParams.HDR_CMD_LINE_PTR}) {
            int width = off == BootParams.HDR_TYPE_OF_LOADER || off == BootParams.HDR_LOADFLAGS ? 1
                    : off == BootParams.HDR_HEAP_END_PTR ? 2 : 4;
            for (int i = 0; i < width; i++) {
                original[off - BootParams.HDR + i] = copied[off - BootParams.HDR + i]; // the fields the loader writes
            }
        }
        assertArrayEquals(original, copied, "every other header byte is the image's");
        assertEquals(0xff, z.get(BootParams.HDR_TYPE_OF_LOADER) & 0xff, "type_of_loader: undefined");
        int loadflags = z.get(BootParams.HDR_LOADFLAGS) & 0xff;
        assertEquals(BootParams.LOADED_HIGH, loadflags & BootParams.LOADED_HIGH, "LOADED_HIGH");
        assertEquals(BootParams.CAN_USE_HEAP, loadflags & BootParams.CAN_USE_HEAP, "CAN_USE_HEAP");
        assertEquals(BootParams.HEAP_END, z.getShort(BootParams.HDR_HEAP_END_PTR) & 0xffff, "heap_end_ptr");
        assertEquals(KernelImage.BzImage.XLF_KERNEL_64, z.getShort(BootParams.HDR_XLOADFLAGS) & KernelImage.BzImage.XLF_KERNEL_64);
        assertEquals(0, z.get(BootParams.SENTINEL), "the sentinel is zero: the loader copied only the header");
    }

    @Test
    void theCommandLineIsWhereCmdLinePtrPoints() throws Exception {
        ByteBuffer z = zeroPage();
        long ptr = Integer.toUnsignedLong(z.getInt(BootParams.HDR_CMD_LINE_PTR)) | ((long) z.getInt(BootParams.EXT_CMD_LINE_PTR) << 32);
        assertEquals(BootLayout.CMDLINE, ptr);
        byte[] cmd = new byte[CMDLINE.length() + 1];
        mem.read(ptr, cmd, 0, cmd.length);
        assertEquals(CMDLINE, new String(cmd, 0, CMDLINE.length(), StandardCharsets.US_ASCII));
        assertEquals(0, cmd[CMDLINE.length()], "NUL-terminated");
        assertTrue(CMDLINE.length() <= Integer.toUnsignedLong(z.getInt(BootParams.HDR_CMDLINE_SIZE)), "within cmdline_size");
    }

    @Test
    void theKernelAndInitrdAreLoadedWhereTheProtocolWantsThem() throws Exception {
        int setupSects = file[0x1f1] == 0 ? 4 : file[0x1f1] & 0xff;
        int start = (setupSects + 1) * 512;
        byte[] loaded = new byte[file.length - start];
        mem.read(BootLayout.HIMEM_START, loaded, 0, loaded.length);
        assertArrayEquals(Arrays.copyOfRange(file, start, file.length), loaded, "protected-mode kernel at 1 MiB");
        assertEquals(BootLayout.HIMEM_START + 0x200, state.entry(), "64-bit entry: load address + 0x200");
        ByteBuffer z = zeroPage();
        long image = Integer.toUnsignedLong(z.getInt(BootParams.HDR_RAMDISK_IMAGE));
        assertEquals(initrd.length, z.getInt(BootParams.HDR_RAMDISK_SIZE));
        assertEquals(0, image % 4096, "initrd page-aligned");
        assertTrue(image >= BootLayout.HIMEM_START + loaded.length, "initrd after the kernel");
        ByteBuffer f = le(file);
        long initSize = Integer.toUnsignedLong(f.getInt(0x260));
        long pref = f.getLong(0x258);
        assertTrue(image >= pref + initSize, "initrd beyond the kernel's decompression area (pref_address + init_size)");
        assertTrue(image + initrd.length <= Integer.toUnsignedLong(f.getInt(0x22c)) + 1, "below initrd_addr_max");
        assertTrue(image + initrd.length <= RAM, "inside RAM");
        byte[] got = new byte[initrd.length];
        mem.read(image, got, 0, got.length);
        assertArrayEquals(initrd, got);
    }

    @Test
    void theE820MapDescribesRamAndTheReservedEbda() throws Exception {
        ByteBuffer z = zeroPage();
        int n = z.get(BootParams.E820_ENTRIES) & 0xff;
        assertEquals(3, n);
        long[][] expected = {{0, 0x9fc00, E820Entry.RAM}, {0x9fc00, 0x400, E820Entry.RESERVED},
            {0x100000, RAM - 0x100000, E820Entry.RAM}};
        for (int i = 0; i < n; i++) {
            int at = BootParams.E820_TABLE + i * E820Entry.BYTES;
            assertEquals(expected[i][0], z.getLong(at), "entry " + i + " addr");
            assertEquals(expected[i][1], z.getLong(at + 8), "entry " + i + " size");
            assertEquals(expected[i][2], z.getInt(at + 16), "entry " + i + " type");
        }
        assertEquals(state.e820(), List.of(new E820Entry(0, 0x9fc00, 1), new E820Entry(0x9fc00, 0x400, 2),
                new E820Entry(0x100000, RAM - 0x100000, 1)));
        try (GuestMemory big = GuestMemory.anonymous(MemoryMap.ramRanges(4L << 30))) {
            List<E820Entry> map = LinuxBoot.e820(big);
            assertEquals(new E820Entry(0x100000, 0xC000_0000L - 0x100000, E820Entry.RAM), map.get(2), "low RAM up to the MMIO gap");
            assertEquals(new E820Entry(1L << 32, 1L << 30, E820Entry.RAM), map.get(3), "the rest above 4 GiB");
        }
    }

    @Test
    void thePageTablesIdentityMapTheFirstFourGibWithTwoMibPages() throws Exception {
        assertEquals(BootLayout.PML4, state.pageTables());
        assertEquals(BootLayout.PDPT | 3, mem.readU64(BootLayout.PML4), "PML4[0] -> PDPT, present, writable");
        for (int i = 1; i < 512; i++) {
            assertEquals(0, mem.readU64(BootLayout.PML4 + 8L * i), "PML4[" + i + "] empty");
        }
        for (int g = 0; g < 4; g++) {
            assertEquals((BootLayout.PD + 4096L * g) | 3, mem.readU64(BootLayout.PDPT + 8L * g), "PDPT[" + g + "]");
            for (int j = 0; j < 512; j++) {
                long pde = mem.readU64(BootLayout.PD + 4096L * g + 8L * j);
                assertEquals((((long) g << 30) | ((long) j << 21)) | 0x83, pde, "PD " + g + " entry " + j + ": 2 MiB page, P|RW|PS");
            }
        }
        for (int i = 4; i < 512; i++) {
            assertEquals(0, mem.readU64(BootLayout.PDPT + 8L * i), "nothing above 4 GiB");
        }
        for (long va : new long[] {0, 0x100200, BootLayout.ZERO_PAGE, BootLayout.CMDLINE, 0xd000_0050L, 0xfec0_0000L, 0xffff_f000L}) {
            assertEquals(va, walk(va), "identity at 0x" + Long.toHexString(va));
        }
    }

    /** A 4-level walk with the tables in guest memory, as the MMU would do it. */
    private long walk(long va) throws Exception {
        long pml4e = mem.readU64(state.pageTables() + 8 * ((va >>> 39) & 511));
        assertEquals(1, pml4e & 1);
        long pdpte = mem.readU64((pml4e & 0x000f_ffff_ffff_f000L) + 8 * ((va >>> 30) & 511));
        assertEquals(1, pdpte & 1);
        long pde = mem.readU64((pdpte & 0x000f_ffff_ffff_f000L) + 8 * ((va >>> 21) & 511));
        assertEquals(0x81, pde & 0x81, "present, large page");
        return (pde & 0x000f_ffff_ffe0_0000L) | (va & 0x1f_ffff);
    }

    @Test
    void theGdtHoldsFlatBootCodeAndDataAndMatchesTheSegmentRegisters() throws Exception {
        long[] gdt = new long[5];
        for (int i = 0; i < 5; i++) {
            gdt[i] = mem.readU64(BootLayout.GDT + 8L * i);
        }
        assertArrayEquals(new long[] {0, 0, 0x00af_9b00_0000_ffffL, 0x00cf_9300_0000_ffffL, 0x008f_8b00_0000_ffffL}, gdt);
        assertEquals(0, mem.readU64(BootLayout.IDT), "an empty IDT");
        SpecialRegisters current = new SpecialRegisters(null, null, null, null, null, null, null, Segment.unusableSegment(),
                null, null, 0x60000010L, 0, 0, 0, 0, 0, 0xfee0_0900L);
        SpecialRegisters s = BootCpu.specialRegisters(state, current);
        assertEquals(new Segment(0, 0xffff_ffff, 0x10, 0xb, true, 0, false, true, true, true, false, false), s.cs(),
                "__BOOT_CS: flat 64-bit code, execute/read");
        Segment data = new Segment(0, 0xffff_ffff, 0x18, 0x3, true, 0, true, true, false, true, false, false);
        for (Segment seg : List.of(s.ds(), s.es(), s.fs(), s.gs(), s.ss())) {
            assertEquals(data, seg, "__BOOT_DS: flat read/write data");
        }
        assertEquals(0x20, s.tr().selector());
        assertEquals(0xb, s.tr().type(), "busy TSS");
        assertEquals(new DescriptorTable(BootLayout.GDT, 39), s.gdt());
        assertEquals(new DescriptorTable(BootLayout.IDT, 7), s.idt());
        assertEquals(X86.CR0_PE | X86.CR0_PG, s.cr0() & (X86.CR0_PE | X86.CR0_PG), "protected mode, paging");
        assertEquals(X86.CR4_PAE, s.cr4() & X86.CR4_PAE);
        assertEquals(X86.EFER_LME | X86.EFER_LMA, s.efer(), "long mode enabled and active");
        assertEquals(BootLayout.PML4, s.cr3());
        assertEquals(0xfee0_0900L, s.apicBase(), "KVM's APIC base kept");
        Registers r = BootCpu.registers(state);
        assertEquals(state.entry(), r.rip());
        assertEquals(BootLayout.ZERO_PAGE, r.rsi(), "RSI: boot_params");
        assertEquals(BootLayout.BOOT_STACK, r.rsp());
        assertEquals(2, r.rflags(), "interrupts off");
    }

    @Test
    void theMpTableAnnouncesTheCpusIoapicAndInterruptRouting() throws Exception {
        byte[] fp = new byte[16];
        mem.read(BootLayout.MPTABLE, fp, 0, 16);
        assertEquals("_MP_", new String(fp, 0, 4, StandardCharsets.US_ASCII));
        ByteBuffer f = le(fp);
        long table = Integer.toUnsignedLong(f.getInt(4));
        assertEquals(BootLayout.MPTABLE + 16, table);
        assertEquals(1, fp[8], "length in 16-byte units");
        assertEquals(4, fp[9], "spec revision 1.4");
        assertEquals(0, sum(fp), "floating pointer checksum");
        assertEquals(0, fp[11], "feature 1: a configuration table is present");
        assertTrue(BootLayout.MPTABLE >= 639 * 1024 && BootLayout.MPTABLE + 16 <= 640 * 1024, "in Linux's 639K scan range");
        assertEquals(0, BootLayout.MPTABLE % 16, "16-byte aligned, as the scan requires");

        byte[] head = new byte[44];
        mem.read(table, head, 0, 44);
        ByteBuffer h = le(head);
        int length = h.getShort(4) & 0xffff;
        byte[] cfg = new byte[length];
        mem.read(table, cfg, 0, length);
        ByteBuffer c = le(cfg);
        assertEquals("PCMP", new String(cfg, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(4, cfg[6]);
        assertEquals(0, sum(cfg), "configuration table checksum");
        assertEquals(0xfee0_0000, c.getInt(36), "local APIC address");
        int entries = c.getShort(34) & 0xffff;
        assertEquals(2 + 1 + 1 + 24 + 2, entries);
        assertTrue(table + length <= 0xa0000, "inside the reserved EBDA range");
        int at = 44;
        for (int cpu = 0; cpu < 2; cpu++) {
            assertEquals(0, cfg[at], "processor entry");
            assertEquals(cpu, cfg[at + 1], "APIC id");
            assertEquals(cpu == 0 ? 3 : 1, cfg[at + 3], "enabled, boot processor first");
            at += 20;
        }
        assertEquals(1, cfg[at]);
        assertEquals("ISA   ", new String(cfg, at + 2, 6, StandardCharsets.US_ASCII));
        at += 8;
        assertEquals(2, cfg[at], "IOAPIC entry");
        int ioapic = cfg[at + 1];
        assertEquals(2, ioapic, "IOAPIC id after the CPUs");
        assertEquals(1, cfg[at + 3] & 1, "enabled");
        assertEquals(0xfec0_0000, c.getInt(at + 4));
        at += 8;
        for (int pin = 0; pin < 24; pin++) {
            assertEquals(3, cfg[at], "I/O interrupt entry");
            assertEquals(0, cfg[at + 1], "INT");
            assertEquals(0, c.getShort(at + 2), "conforming polarity and trigger (ISA: edge, high)");
            assertEquals(pin, cfg[at + 5], "source bus IRQ");
            assertEquals(ioapic, cfg[at + 6]);
            assertEquals(pin, cfg[at + 7], "INTIN#");
            at += 8;
        }
        assertEquals(4, cfg[at]);
        assertEquals(3, cfg[at + 1], "ExtINT");
        assertEquals(0, cfg[at + 7], "LINT0");
        at += 8;
        assertEquals(4, cfg[at]);
        assertEquals(1, cfg[at + 1], "NMI");
        assertEquals(1, cfg[at + 7], "LINT1");
        assertEquals(length, at + 8);
    }

    @Test
    void whatDoesNotFitIsRefused() {
        KernelImage k = KernelImage.parse(file);
        assertThrows(VmmException.class, () -> LinuxBoot.load(mem, k, null, "x".repeat(70_000), 1), "command line too long");
        assertThrows(VmmException.class, () -> LinuxBoot.load(mem, k, null, "ü", 1), "not ASCII");
        KernelImage.BzImage bz = (KernelImage.BzImage) k;
        long need = bz.prefAddress() + bz.initSize();
        long small = ((need + (4L << 20)) + (2L << 20) - 1) & -(2L << 20);
        try (GuestMemory tight = GuestMemory.anonymous(MemoryMap.ramRanges(small))) {
            assertThrows(VmmException.class, () -> LinuxBoot.load(tight, k, new byte[8 << 20], "", 1),
                    "an initrd that does not fit between the kernel and the end of RAM");
        }
        assertThrows(VmmException.class, () -> LinuxBoot.load(mem, k, null, "", 33), "more CPUs than the MP table holds");
        try (GuestMemory tiny = GuestMemory.anonymous(MemoryMap.ramRanges(16L << 20))) {
            assertThrows(VmmException.class, () -> LinuxBoot.load(tiny, k, null, "", 1),
                    "16 MiB is less than pref_address + init_size");
        }
    }

    @Test
    void theImageIsRecognisedAsABzImage() {
        KernelImage.BzImage bz = assertInstanceOf(KernelImage.BzImage.class, KernelImage.parse(file));
        assertTrue(bz.prefAddress() >= 0x100000);
        assertTrue(bz.initSize() > bz.kernel().length, "init_size covers the decompressed kernel");
    }

    private static int sum(byte[] b) {
        int s = 0;
        for (byte x : b) {
            s += x & 0xff;
        }
        return s & 0xff;
    }
}
