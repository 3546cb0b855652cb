package dev.kava.vmm.cpu;

/** Architectural constants of x86-64 the boot code uses (Intel SDM vol. 3). */
public final class X86 {
    public static final long CR0_PE = 1;
    public static final long CR0_ET = 1 << 4;
    public static final long CR0_PG = 1L << 31;
    public static final long CR4_PAE = 1 << 5;
    public static final long EFER_LME = 1 << 8;
    public static final long EFER_LMA = 1 << 10;

    public static final int MSR_IA32_TSC = 0x10;
    public static final int MSR_IA32_SYSENTER_CS = 0x174;
    public static final int MSR_IA32_SYSENTER_ESP = 0x175;
    public static final int MSR_IA32_SYSENTER_EIP = 0x176;
    public static final int MSR_IA32_MISC_ENABLE = 0x1a0;
    public static final int MSR_MTRR_DEF_TYPE = 0x2ff;
    public static final int MSR_STAR = 0xc000_0081;
    public static final int MSR_LSTAR = 0xc000_0082;
    public static final int MSR_CSTAR = 0xc000_0083;
    public static final int MSR_SYSCALL_MASK = 0xc000_0084;
    public static final int MSR_KERNEL_GS_BASE = 0xc000_0102;
    public static final long MISC_ENABLE_FAST_STRING = 1;
    public static final long MTRR_ENABLE = 1 << 11;
    public static final long MTRR_TYPE_WRBACK = 6;

    /** x87 control word and MXCSR after FNINIT / reset. */
    public static final int FPU_FCW = 0x37f;
    public static final int FPU_MXCSR = 0x1f80;

    /** Local APIC register offsets and LVT delivery modes. */
    public static final int APIC_LVT0 = 0x350;
    public static final int APIC_LVT1 = 0x360;
    public static final int APIC_DELIVERY_MODE_MASK = 0x700;
    public static final int APIC_MODE_NMI = 0x400;
    public static final int APIC_MODE_EXTINT = 0x700;

    private X86() {}
}
