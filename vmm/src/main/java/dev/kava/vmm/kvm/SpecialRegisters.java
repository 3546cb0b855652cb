package dev.kava.vmm.kvm;

/**
 * Segment, table and control registers, {@code struct kvm_sregs}. The pending-interrupt bitmap is
 * not modelled: it is written as zero (nothing pending), which is what a vCPU about to boot needs.
 */
public record SpecialRegisters(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss,
                               Segment tr, Segment ldt, DescriptorTable gdt, DescriptorTable idt,
                               long cr0, long cr2, long cr3, long cr4, long cr8, long efer, long apicBase) {}
