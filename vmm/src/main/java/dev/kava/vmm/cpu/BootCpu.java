package dev.kava.vmm.cpu;

import dev.kava.vmm.boot.BootState;
import dev.kava.vmm.boot.Gdt;
import dev.kava.vmm.kvm.MsrEntry;
import dev.kava.vmm.kvm.Registers;
import dev.kava.vmm.kvm.SpecialRegisters;
import java.util.List;

/**
 * The state a vCPU enters the guest with for the 64-bit boot protocol: long mode with paging on
 * (CR0.PE|PG, CR4.PAE, EFER.LME|LMA, CR3 the identity map), CS/DS/ES/FS/GS/SS/TR from the boot GDT,
 * interrupts off, RSI the zero page; plus the MSRs and the LAPIC local-interrupt setup a Linux
 * guest expects from firmware.
 */
public final class BootCpu {
    private BootCpu() {}

    /** General registers: RIP the entry, RSP/RBP the boot stack, RSI the zero page, RFLAGS bit 1 only. */
    public static Registers registers(BootState boot) {
        return Registers.of(boot.entry(), boot.stack(), boot.zeroPage());
    }

    /**
     * Special registers for long mode, keeping what only KVM knows from {@code current}
     * ({@code KVM_GET_SREGS}: the APIC base, the LDT descriptor, CR2, CR8).
     */
    public static SpecialRegisters specialRegisters(BootState boot, SpecialRegisters current) {
        var code = Gdt.segment(Gdt.CODE_SELECTOR / 8);
        var data = Gdt.segment(Gdt.DATA_SELECTOR / 8);
        var tss = Gdt.segment(Gdt.TSS_SELECTOR / 8);
        return new SpecialRegisters(code, data, data, data, data, data, tss, current.ldt(), Gdt.gdtr(), Gdt.idtr(),
                X86.CR0_PE | X86.CR0_ET | X86.CR0_PG, current.cr2(), boot.pageTables(), X86.CR4_PAE, current.cr8(),
                X86.EFER_LME | X86.EFER_LMA, current.apicBase());
    }

    /** The MSRs firmware leaves set (what Firecracker sets): SYSCALL MSRs zero, fast strings, MTRRs on, write-back. */
    public static List<MsrEntry> msrs() {
        return List.of(
                new MsrEntry(X86.MSR_IA32_SYSENTER_CS, 0),
                new MsrEntry(X86.MSR_IA32_SYSENTER_ESP, 0),
                new MsrEntry(X86.MSR_IA32_SYSENTER_EIP, 0),
                new MsrEntry(X86.MSR_STAR, 0),
                new MsrEntry(X86.MSR_CSTAR, 0),
                new MsrEntry(X86.MSR_KERNEL_GS_BASE, 0),
                new MsrEntry(X86.MSR_SYSCALL_MASK, 0),
                new MsrEntry(X86.MSR_LSTAR, 0),
                new MsrEntry(X86.MSR_IA32_TSC, 0),
                new MsrEntry(X86.MSR_IA32_MISC_ENABLE, X86.MISC_ENABLE_FAST_STRING),
                new MsrEntry(X86.MSR_MTRR_DEF_TYPE, X86.MTRR_ENABLE | X86.MTRR_TYPE_WRBACK));
    }

    /**
     * The LAPIC page with LINT0 in ExtINT mode (the PIC's interrupts in virtual-wire mode) and LINT1
     * in NMI mode, as the MP table says and as the BIOS would leave it.
     */
    public static byte[] lapicWithLocalInterrupts(byte[] lapic) {
        byte[] out = lapic.clone();
        setDeliveryMode(out, X86.APIC_LVT0, X86.APIC_MODE_EXTINT);
        setDeliveryMode(out, X86.APIC_LVT1, X86.APIC_MODE_NMI);
        return out;
    }

    private static void setDeliveryMode(byte[] regs, int offset, int mode) {
        int v = (regs[offset] & 0xff) | (regs[offset + 1] & 0xff) << 8 | (regs[offset + 2] & 0xff) << 16
                | (regs[offset + 3] & 0xff) << 24;
        v = (v & ~X86.APIC_DELIVERY_MODE_MASK) | mode;
        regs[offset] = (byte) v;
        regs[offset + 1] = (byte) (v >> 8);
        regs[offset + 2] = (byte) (v >> 16);
        regs[offset + 3] = (byte) (v >> 24);
    }
}
