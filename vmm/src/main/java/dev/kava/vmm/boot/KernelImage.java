package dev.kava.vmm.boot;

import dev.kava.vmm.VmmException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A guest kernel as read from its file: a bzImage (Linux boot protocol) or an ELF vmlinux. The
 * file is host-supplied but parsed defensively all the same: every offset and size is checked
 * against the file and the target memory before use.
 */
public sealed interface KernelImage {
    /** Largest kernel file accepted. */
    int MAX_BYTES = 512 << 20;

    /** Where the 64-bit entry point is in guest physical memory once {@link LinuxBoot} loaded it. */
    long entry();

    /** Parses {@code file}: ELF when it starts with {@code \x7fELF}, else a bzImage. */
    static KernelImage parse(byte[] file) {
        if (file.length > MAX_BYTES) {
            throw new VmmException("kernel image of " + file.length + " bytes is larger than " + MAX_BYTES);
        }
        if (file.length >= 4 && file[0] == 0x7f && file[1] == 'E' && file[2] == 'L' && file[3] == 'F') {
            return ElfKernel.parse(file);
        }
        return BzImage.parse(file);
    }

    /**
     * A bzImage: the real-mode setup (whose header is copied into boot_params) followed by the
     * protected-mode kernel, loaded at {@link BootLayout#HIMEM_START}; the 64-bit entry point is
     * 0x200 past it (boot protocol 2.12+, {@code XLF_KERNEL_64}).
     *
     * @param setupHeader the header bytes from offset 0x1f1 to its end (0x202 + the byte at 0x201)
     * @param kernel      the protected-mode kernel
     */
    record BzImage(byte[] setupHeader, byte[] kernel, int version, int loadflags, int xloadflags, long prefAddress,
                   long initSize, int cmdlineSize, long initrdAddrMax) implements KernelImage {
        public static final int BOOT_FLAG = 0xAA55;
        /** "HdrS", little-endian. */
        public static final int MAGIC = 0x53726448;
        public static final int HEADER_START = 0x1f1;
        public static final int MIN_VERSION = 0x020c; // 2.12: XLF_KERNEL_64
        public static final int LOADED_HIGH = 0x01;
        public static final int XLF_KERNEL_64 = 0x01;

        static BzImage parse(byte[] file) {
            if (file.length < 0x270) {
                throw new VmmException("not a kernel image: " + file.length + " bytes is too short for a bzImage header");
            }
            ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            if ((b.getShort(0x1fe) & 0xffff) != BOOT_FLAG || b.getInt(0x202) != MAGIC) {
                throw new VmmException("not a bzImage (no 0xAA55 boot flag / \"HdrS\" magic) nor an ELF vmlinux");
            }
            int version = b.getShort(0x206) & 0xffff;
            if (version < MIN_VERSION) {
                throw new VmmException("boot protocol " + (version >> 8) + "." + (version & 0xff)
                        + " is too old: the 64-bit entry needs 2.12 or later");
            }
            int loadflags = b.get(0x211) & 0xff;
            int xloadflags = b.getShort(0x236) & 0xffff;
            if ((loadflags & LOADED_HIGH) == 0) {
                throw new VmmException("zImage (not loaded high) kernels are not supported");
            }
            if ((xloadflags & XLF_KERNEL_64) == 0) {
                throw new VmmException("the kernel has no 64-bit entry point (XLF_KERNEL_64)");
            }
            int setupSects = file[0x1f1] & 0xff;
            if (setupSects == 0) {
                setupSects = 4;
            }
            int headerEnd = 0x202 + (file[0x201] & 0xff);
            long kernelStart = (setupSects + 1L) * 512;
            if (kernelStart >= file.length || headerEnd > file.length) {
                throw new VmmException("bzImage setup (" + setupSects + " sectors) is larger than the file");
            }
            return new BzImage(Arrays.copyOfRange(file, HEADER_START, headerEnd),
                    Arrays.copyOfRange(file, (int) kernelStart, file.length), version, loadflags, xloadflags,
                    b.getLong(0x258), Integer.toUnsignedLong(b.getInt(0x260)), b.getInt(0x238),
                    Integer.toUnsignedLong(b.getInt(0x22c)));
        }

        @Override
        public long entry() {
            return BootLayout.HIMEM_START + 0x200;
        }
    }

    /** One PT_LOAD segment of an ELF kernel: file bytes to copy to {@code physicalAddress}, then zeros to {@code memorySize}. */
    record Segment(long physicalAddress, byte[] data, long memorySize) {}

    /**
     * An ELF64 x86-64 vmlinux: its PT_LOAD segments go to their physical addresses; the entry
     * ({@code e_entry}, the physical {@code startup_64}) takes the 64-bit boot protocol.
     */
    record ElfKernel(long entry, List<Segment> segments) implements KernelImage {
        static final int PT_LOAD = 1;
        static final int EM_X86_64 = 62;
        static final int MAX_SEGMENTS = 64;

        static ElfKernel parse(byte[] file) {
            ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            if (file.length < 64 || file[4] != 2 || file[5] != 1) {
                throw new VmmException("not a 64-bit little-endian ELF kernel");
            }
            if ((b.getShort(18) & 0xffff) != EM_X86_64) {
                throw new VmmException("ELF kernel is not for x86-64 (e_machine " + (b.getShort(18) & 0xffff) + ")");
            }
            long entry = b.getLong(24);
            long phoff = b.getLong(32);
            int phentsize = b.getShort(54) & 0xffff;
            int phnum = b.getShort(56) & 0xffff;
            if (phentsize < 56 || phnum == 0 || phnum > MAX_SEGMENTS || phoff < 0
                    || phoff > file.length - (long) phentsize * phnum) {
                throw new VmmException("ELF kernel program headers are malformed");
            }
            List<Segment> segments = new ArrayList<>();
            for (int i = 0; i < phnum; i++) {
                int at = (int) (phoff + (long) i * phentsize);
                if (b.getInt(at) != PT_LOAD) {
                    continue;
                }
                long offset = b.getLong(at + 8);
                long paddr = b.getLong(at + 24);
                long filesz = b.getLong(at + 32);
                long memsz = b.getLong(at + 40);
                if (offset < 0 || filesz < 0 || memsz < filesz || offset > file.length - filesz || paddr < 0
                        || paddr > Long.MAX_VALUE - memsz) {
                    throw new VmmException("ELF kernel segment " + i + " is malformed");
                }
                segments.add(new Segment(paddr, Arrays.copyOfRange(file, (int) offset, (int) (offset + filesz)), memsz));
            }
            if (segments.isEmpty()) {
                throw new VmmException("ELF kernel has no PT_LOAD segment");
            }
            return new ElfKernel(entry, List.copyOf(segments));
        }
    }
}
