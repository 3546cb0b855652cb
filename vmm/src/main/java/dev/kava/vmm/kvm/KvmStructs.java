package dev.kava.vmm.kvm;

import static dev.kava.vmm.kvm.KvmLayouts.offset;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** Converts the KVM records to and from their C structs in native memory. Pure; tested without KVM. */
final class KvmStructs {
    private static final String[] REGS = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};

    private KvmStructs() {}

    static MemorySegment registers(Arena arena, Registers r) {
        MemorySegment s = arena.allocate(KvmLayouts.KVM_REGS);
        long[] v = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(), r.r10(),
            r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()};
        for (int i = 0; i < REGS.length; i++) {
            s.set(JAVA_LONG, offset(KvmLayouts.KVM_REGS, REGS[i]), v[i]);
        }
        return s;
    }

    static Registers registers(MemorySegment s) {
        long[] v = new long[REGS.length];
        for (int i = 0; i < REGS.length; i++) {
            v[i] = s.get(JAVA_LONG, offset(KvmLayouts.KVM_REGS, REGS[i]));
        }
        return new Registers(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13],
                v[14], v[15], v[16], v[17]);
    }

    static void segment(MemorySegment s, long at, Segment g) {
        s.set(JAVA_LONG, at + offset(KvmLayouts.KVM_SEGMENT, "base"), g.base());
        s.set(JAVA_INT, at + offset(KvmLayouts.KVM_SEGMENT, "limit"), g.limit());
        s.set(JAVA_SHORT, at + offset(KvmLayouts.KVM_SEGMENT, "selector"), (short) g.selector());
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "type"), (byte) g.type());
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "present"), bit(g.present()));
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "dpl"), (byte) g.dpl());
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "db"), bit(g.db()));
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "s"), bit(g.s()));
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "l"), bit(g.l()));
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "g"), bit(g.g()));
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "avl"), bit(g.avl()));
        s.set(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "unusable"), bit(g.unusable()));
    }

    static Segment segment(MemorySegment s, long at) {
        return new Segment(
                s.get(JAVA_LONG, at + offset(KvmLayouts.KVM_SEGMENT, "base")),
                s.get(JAVA_INT, at + offset(KvmLayouts.KVM_SEGMENT, "limit")),
                s.get(JAVA_SHORT, at + offset(KvmLayouts.KVM_SEGMENT, "selector")) & 0xffff,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "type")) & 0xff,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "present")) != 0,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "dpl")) & 0xff,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "db")) != 0,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "s")) != 0,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "l")) != 0,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "g")) != 0,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "avl")) != 0,
                s.get(JAVA_BYTE, at + offset(KvmLayouts.KVM_SEGMENT, "unusable")) != 0);
    }

    private static void dtable(MemorySegment s, long at, DescriptorTable t) {
        s.set(JAVA_LONG, at + offset(KvmLayouts.KVM_DTABLE, "base"), t.base());
        s.set(JAVA_SHORT, at + offset(KvmLayouts.KVM_DTABLE, "limit"), (short) t.limit());
    }

    private static DescriptorTable dtable(MemorySegment s, long at) {
        return new DescriptorTable(s.get(JAVA_LONG, at + offset(KvmLayouts.KVM_DTABLE, "base")),
                s.get(JAVA_SHORT, at + offset(KvmLayouts.KVM_DTABLE, "limit")) & 0xffff);
    }

    static MemorySegment specialRegisters(Arena arena, SpecialRegisters r) {
        MemorySegment s = arena.allocate(KvmLayouts.KVM_SREGS); // zeroed: no pending interrupts
        Segment[] segs = {r.cs(), r.ds(), r.es(), r.fs(), r.gs(), r.ss(), r.tr(), r.ldt()};
        for (int i = 0; i < segs.length; i++) {
            segment(s, offset(KvmLayouts.KVM_SREGS, KvmLayouts.SEGMENTS.get(i)), segs[i]);
        }
        dtable(s, offset(KvmLayouts.KVM_SREGS, "gdt"), r.gdt());
        dtable(s, offset(KvmLayouts.KVM_SREGS, "idt"), r.idt());
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr0"), r.cr0());
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr2"), r.cr2());
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr3"), r.cr3());
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr4"), r.cr4());
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr8"), r.cr8());
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "efer"), r.efer());
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "apic_base"), r.apicBase());
        return s;
    }

    static SpecialRegisters specialRegisters(MemorySegment s) {
        Segment[] g = new Segment[8];
        for (int i = 0; i < 8; i++) {
            g[i] = segment(s, offset(KvmLayouts.KVM_SREGS, KvmLayouts.SEGMENTS.get(i)));
        }
        return new SpecialRegisters(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
                dtable(s, offset(KvmLayouts.KVM_SREGS, "gdt")), dtable(s, offset(KvmLayouts.KVM_SREGS, "idt")),
                s.get(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr0")),
                s.get(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr2")),
                s.get(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr3")),
                s.get(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr4")),
                s.get(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "cr8")),
                s.get(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "efer")),
                s.get(JAVA_LONG, offset(KvmLayouts.KVM_SREGS, "apic_base")));
    }

    /**
     * A {@code kvm_cpuid2} with room for {@code capacity} entries holding {@code entries}; its
     * {@code nent} is the entry count, or the capacity when there are none (what
     * KVM_GET_SUPPORTED_CPUID reads as the room it may fill).
     */
    static MemorySegment cpuid(Arena arena, List<CpuidEntry> entries, int capacity) {
        if (entries.size() > capacity) {
            throw new IllegalArgumentException(entries.size() + " CPUID entries do not fit " + capacity);
        }
        long entrySize = KvmLayouts.KVM_CPUID_ENTRY2.byteSize();
        MemorySegment s = arena.allocate(KvmLayouts.KVM_CPUID2.byteSize() + entrySize * capacity, 8);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_CPUID2, "nent"), entries.isEmpty() ? capacity : entries.size());
        long base = KvmLayouts.KVM_CPUID2.byteSize();
        for (int i = 0; i < entries.size(); i++) {
            CpuidEntry e = entries.get(i);
            long at = base + i * entrySize;
            s.set(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "function"), e.function());
            s.set(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "index"), e.index());
            s.set(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "flags"), e.flags());
            s.set(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "eax"), e.eax());
            s.set(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "ebx"), e.ebx());
            s.set(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "ecx"), e.ecx());
            s.set(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "edx"), e.edx());
        }
        return s;
    }

    /** The entries of a {@code kvm_cpuid2} the kernel filled (its {@code nent} bounded by the buffer). */
    static List<CpuidEntry> cpuid(MemorySegment s) {
        long entrySize = KvmLayouts.KVM_CPUID_ENTRY2.byteSize();
        long base = KvmLayouts.KVM_CPUID2.byteSize();
        long capacity = (s.byteSize() - base) / entrySize;
        int n = (int) Math.min(Integer.toUnsignedLong(s.get(JAVA_INT, offset(KvmLayouts.KVM_CPUID2, "nent"))), capacity);
        List<CpuidEntry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long at = base + i * entrySize;
            out.add(new CpuidEntry(
                    s.get(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "function")),
                    s.get(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "index")),
                    s.get(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "flags")),
                    s.get(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "eax")),
                    s.get(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "ebx")),
                    s.get(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "ecx")),
                    s.get(JAVA_INT, at + offset(KvmLayouts.KVM_CPUID_ENTRY2, "edx"))));
        }
        return out;
    }

    static MemorySegment msrs(Arena arena, List<MsrEntry> entries) {
        long entrySize = KvmLayouts.KVM_MSR_ENTRY.byteSize();
        MemorySegment s = arena.allocate(KvmLayouts.KVM_MSRS.byteSize() + entrySize * entries.size(), 8);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_MSRS, "nmsrs"), entries.size());
        long base = KvmLayouts.KVM_MSRS.byteSize();
        for (int i = 0; i < entries.size(); i++) {
            long at = base + i * entrySize;
            s.set(JAVA_INT, at + offset(KvmLayouts.KVM_MSR_ENTRY, "index"), entries.get(i).index());
            s.set(JAVA_LONG, at + offset(KvmLayouts.KVM_MSR_ENTRY, "data"), entries.get(i).data());
        }
        return s;
    }

    static List<MsrEntry> msrs(MemorySegment s, int count) {
        long entrySize = KvmLayouts.KVM_MSR_ENTRY.byteSize();
        long base = KvmLayouts.KVM_MSRS.byteSize();
        List<MsrEntry> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long at = base + i * entrySize;
            out.add(new MsrEntry(s.get(JAVA_INT, at + offset(KvmLayouts.KVM_MSR_ENTRY, "index")),
                    s.get(JAVA_LONG, at + offset(KvmLayouts.KVM_MSR_ENTRY, "data"))));
        }
        return out;
    }

    static MemorySegment fpu(Arena arena, int fcw, int mxcsr) {
        MemorySegment s = arena.allocate(KvmLayouts.KVM_FPU);
        s.set(JAVA_SHORT, offset(KvmLayouts.KVM_FPU, "fcw"), (short) fcw);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_FPU, "mxcsr"), mxcsr);
        return s;
    }

    static MemorySegment memoryRegion(Arena arena, int slot, long guestAddress, long size, long userAddress) {
        MemorySegment s = arena.allocate(KvmLayouts.KVM_USERSPACE_MEMORY_REGION);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_USERSPACE_MEMORY_REGION, "slot"), slot);
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_USERSPACE_MEMORY_REGION, "guest_phys_addr"), guestAddress);
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_USERSPACE_MEMORY_REGION, "memory_size"), size);
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_USERSPACE_MEMORY_REGION, "userspace_addr"), userAddress);
        return s;
    }

    static MemorySegment irqfd(Arena arena, int fd, int gsi, int flags) {
        MemorySegment s = arena.allocate(KvmLayouts.KVM_IRQFD);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_IRQFD, "fd"), fd);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_IRQFD, "gsi"), gsi);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_IRQFD, "flags"), flags);
        return s;
    }

    static MemorySegment ioeventfd(Arena arena, long address, int length, int fd, int flags, long datamatch) {
        MemorySegment s = arena.allocate(KvmLayouts.KVM_IOEVENTFD);
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_IOEVENTFD, "datamatch"), datamatch);
        s.set(JAVA_LONG, offset(KvmLayouts.KVM_IOEVENTFD, "addr"), address);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_IOEVENTFD, "len"), length);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_IOEVENTFD, "fd"), fd);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_IOEVENTFD, "flags"), flags);
        return s;
    }

    static MemorySegment pitConfig(Arena arena, int flags) {
        MemorySegment s = arena.allocate(KvmLayouts.KVM_PIT_CONFIG);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_PIT_CONFIG, "flags"), flags);
        return s;
    }

    /** {@code kvm_signal_mask} with the kernel's 8-byte sigset. */
    static MemorySegment signalMask(Arena arena, long mask) {
        MemorySegment s = arena.allocate(KvmLayouts.KVM_SIGNAL_MASK.byteSize() + 8, 8);
        s.set(JAVA_INT, offset(KvmLayouts.KVM_SIGNAL_MASK, "len"), 8);
        s.set(JAVA_LONG.withByteAlignment(4), KvmLayouts.KVM_SIGNAL_MASK.byteSize(), mask);
        return s;
    }

    private static byte bit(boolean b) {
        return (byte) (b ? 1 : 0);
    }
}
