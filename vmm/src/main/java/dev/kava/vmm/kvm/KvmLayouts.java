package dev.kava.vmm.kvm;

import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;
import java.util.List;

/**
 * The KVM structs this VMM passes to ioctls, x86-64, padding spelled out. Each layout is named
 * after its C type and each member after its C field; {@code KvmLayoutTest} derives
 * {@code sizeof}/{@code offsetof} checks from the names and compiles them against
 * {@code <linux/kvm.h>} with gcc. Flexible arrays ({@code kvm_msrs.entries},
 * {@code kvm_cpuid2.entries}) are the header only; their entries follow.
 */
final class KvmLayouts {
    private KvmLayouts() {}

    static final StructLayout KVM_REGS = structLayout(
            JAVA_LONG.withName("rax"), JAVA_LONG.withName("rbx"), JAVA_LONG.withName("rcx"), JAVA_LONG.withName("rdx"),
            JAVA_LONG.withName("rsi"), JAVA_LONG.withName("rdi"), JAVA_LONG.withName("rsp"), JAVA_LONG.withName("rbp"),
            JAVA_LONG.withName("r8"), JAVA_LONG.withName("r9"), JAVA_LONG.withName("r10"), JAVA_LONG.withName("r11"),
            JAVA_LONG.withName("r12"), JAVA_LONG.withName("r13"), JAVA_LONG.withName("r14"), JAVA_LONG.withName("r15"),
            JAVA_LONG.withName("rip"), JAVA_LONG.withName("rflags")
    ).withName("struct kvm_regs");

    static final StructLayout KVM_SEGMENT = structLayout(
            JAVA_LONG.withName("base"),
            JAVA_INT.withName("limit"),
            JAVA_SHORT.withName("selector"),
            JAVA_BYTE.withName("type"),
            JAVA_BYTE.withName("present"),
            JAVA_BYTE.withName("dpl"),
            JAVA_BYTE.withName("db"),
            JAVA_BYTE.withName("s"),
            JAVA_BYTE.withName("l"),
            JAVA_BYTE.withName("g"),
            JAVA_BYTE.withName("avl"),
            JAVA_BYTE.withName("unusable"),
            JAVA_BYTE.withName("padding")
    ).withName("struct kvm_segment");

    static final StructLayout KVM_DTABLE = structLayout(
            JAVA_LONG.withName("base"),
            JAVA_SHORT.withName("limit"),
            sequenceLayout(3, JAVA_SHORT).withName("padding")
    ).withName("struct kvm_dtable");

    /** The segment registers in {@code kvm_sregs} order. */
    static final List<String> SEGMENTS = List.of("cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt");

    static final StructLayout KVM_SREGS = structLayout(
            KVM_SEGMENT.withName("cs"), KVM_SEGMENT.withName("ds"), KVM_SEGMENT.withName("es"),
            KVM_SEGMENT.withName("fs"), KVM_SEGMENT.withName("gs"), KVM_SEGMENT.withName("ss"),
            KVM_SEGMENT.withName("tr"), KVM_SEGMENT.withName("ldt"),
            KVM_DTABLE.withName("gdt"), KVM_DTABLE.withName("idt"),
            JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"), JAVA_LONG.withName("cr4"),
            JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"), JAVA_LONG.withName("apic_base"),
            sequenceLayout((KvmConstants.KVM_NR_INTERRUPTS + 63) / 64, JAVA_LONG).withName("interrupt_bitmap")
    ).withName("struct kvm_sregs");

    static final StructLayout KVM_FPU = structLayout(
            sequenceLayout(128, JAVA_BYTE).withName("fpr"),
            JAVA_SHORT.withName("fcw"),
            JAVA_SHORT.withName("fsw"),
            JAVA_BYTE.withName("ftwx"),
            JAVA_BYTE.withName("pad1"),
            JAVA_SHORT.withName("last_opcode"),
            JAVA_LONG.withName("last_ip"),
            JAVA_LONG.withName("last_dp"),
            sequenceLayout(256, JAVA_BYTE).withName("xmm"),
            JAVA_INT.withName("mxcsr"),
            JAVA_INT.withName("pad2")
    ).withName("struct kvm_fpu");

    static final StructLayout KVM_MSR_ENTRY = structLayout(
            JAVA_INT.withName("index"),
            JAVA_INT.withName("reserved"),
            JAVA_LONG.withName("data")
    ).withName("struct kvm_msr_entry");

    /** The header; {@code nmsrs} entries follow. */
    static final StructLayout KVM_MSRS = structLayout(
            JAVA_INT.withName("nmsrs"),
            JAVA_INT.withName("pad")
    ).withName("struct kvm_msrs");

    static final StructLayout KVM_CPUID_ENTRY2 = structLayout(
            JAVA_INT.withName("function"),
            JAVA_INT.withName("index"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("eax"),
            JAVA_INT.withName("ebx"),
            JAVA_INT.withName("ecx"),
            JAVA_INT.withName("edx"),
            sequenceLayout(3, JAVA_INT).withName("padding")
    ).withName("struct kvm_cpuid_entry2");

    /** The header; {@code nent} entries follow. */
    static final StructLayout KVM_CPUID2 = structLayout(
            JAVA_INT.withName("nent"),
            JAVA_INT.withName("padding")
    ).withName("struct kvm_cpuid2");

    static final StructLayout KVM_USERSPACE_MEMORY_REGION = structLayout(
            JAVA_INT.withName("slot"),
            JAVA_INT.withName("flags"),
            JAVA_LONG.withName("guest_phys_addr"),
            JAVA_LONG.withName("memory_size"),
            JAVA_LONG.withName("userspace_addr")
    ).withName("struct kvm_userspace_memory_region");

    static final StructLayout KVM_IRQFD = structLayout(
            JAVA_INT.withName("fd"),
            JAVA_INT.withName("gsi"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("resamplefd"),
            sequenceLayout(16, JAVA_BYTE).withName("pad")
    ).withName("struct kvm_irqfd");

    static final StructLayout KVM_IOEVENTFD = structLayout(
            JAVA_LONG.withName("datamatch"),
            JAVA_LONG.withName("addr"),
            JAVA_INT.withName("len"),
            JAVA_INT.withName("fd"),
            JAVA_INT.withName("flags"),
            sequenceLayout(36, JAVA_BYTE).withName("pad")
    ).withName("struct kvm_ioeventfd");

    static final StructLayout KVM_PIT_CONFIG = structLayout(
            JAVA_INT.withName("flags"),
            sequenceLayout(15, JAVA_INT).withName("pad")
    ).withName("struct kvm_pit_config");

    static final StructLayout KVM_IRQ_LEVEL = structLayout(
            JAVA_INT.withName("irq"),
            JAVA_INT.withName("level")
    ).withName("struct kvm_irq_level");

    /** The header; the 8-byte kernel sigset follows. */
    static final StructLayout KVM_SIGNAL_MASK = structLayout(
            JAVA_INT.withName("len")
    ).withName("struct kvm_signal_mask");

    static final StructLayout KVM_MP_STATE = structLayout(
            JAVA_INT.withName("mp_state")
    ).withName("struct kvm_mp_state");

    /** Every layout above, for the layout test. */
    static final List<StructLayout> ALL = List.of(KVM_REGS, KVM_SEGMENT, KVM_DTABLE, KVM_SREGS, KVM_FPU, KVM_MSR_ENTRY,
            KVM_MSRS, KVM_CPUID_ENTRY2, KVM_CPUID2, KVM_USERSPACE_MEMORY_REGION, KVM_IRQFD, KVM_IOEVENTFD,
            KVM_PIT_CONFIG, KVM_IRQ_LEVEL, KVM_SIGNAL_MASK, KVM_MP_STATE);

    // ------------------------------------------------------------ struct kvm_run: the fields we use

    /** Offsets in {@code struct kvm_run}, named after their C member paths (checked by the layout test). */
    static final long RUN_IMMEDIATE_EXIT = 1;
    static final long RUN_EXIT_REASON = 8;
    static final long RUN_IF_FLAG = 13;
    static final long RUN_IO_DIRECTION = 32;
    static final long RUN_IO_SIZE = 33;
    static final long RUN_IO_PORT = 34;
    static final long RUN_IO_COUNT = 36;
    static final long RUN_IO_DATA_OFFSET = 40;
    static final long RUN_MMIO_PHYS_ADDR = 32;
    static final long RUN_MMIO_DATA = 40;
    static final long RUN_MMIO_LEN = 48;
    static final long RUN_MMIO_IS_WRITE = 52;
    static final long RUN_FAIL_ENTRY_REASON = 32;
    static final long RUN_FAIL_ENTRY_CPU = 40;
    static final long RUN_INTERNAL_SUBERROR = 32;
    static final long RUN_INTERNAL_NDATA = 36;
    static final long RUN_SYSTEM_EVENT_TYPE = 32;
    /** The smallest kvm_run we accept: the union ends well before this. */
    static final long RUN_MIN_SIZE = 304;

    /** C member path of each offset above, for the layout test. */
    static final List<Object[]> RUN_FIELDS = List.of(
            new Object[] {"immediate_exit", RUN_IMMEDIATE_EXIT, 1L},
            new Object[] {"exit_reason", RUN_EXIT_REASON, 4L},
            new Object[] {"if_flag", RUN_IF_FLAG, 1L},
            new Object[] {"io.direction", RUN_IO_DIRECTION, 1L},
            new Object[] {"io.size", RUN_IO_SIZE, 1L},
            new Object[] {"io.port", RUN_IO_PORT, 2L},
            new Object[] {"io.count", RUN_IO_COUNT, 4L},
            new Object[] {"io.data_offset", RUN_IO_DATA_OFFSET, 8L},
            new Object[] {"mmio.phys_addr", RUN_MMIO_PHYS_ADDR, 8L},
            new Object[] {"mmio.data", RUN_MMIO_DATA, 8L},
            new Object[] {"mmio.len", RUN_MMIO_LEN, 4L},
            new Object[] {"mmio.is_write", RUN_MMIO_IS_WRITE, 1L},
            new Object[] {"fail_entry.hardware_entry_failure_reason", RUN_FAIL_ENTRY_REASON, 8L},
            new Object[] {"fail_entry.cpu", RUN_FAIL_ENTRY_CPU, 4L},
            new Object[] {"internal.suberror", RUN_INTERNAL_SUBERROR, 4L},
            new Object[] {"internal.ndata", RUN_INTERNAL_NDATA, 4L},
            new Object[] {"system_event.type", RUN_SYSTEM_EVENT_TYPE, 4L});

    static long offset(MemoryLayout layout, String member) {
        return layout.byteOffset(PathElement.groupElement(member));
    }
}
