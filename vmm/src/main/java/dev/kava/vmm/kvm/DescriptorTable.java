package dev.kava.vmm.kvm;

/** A GDTR or IDTR ({@code struct kvm_dtable}): base address and limit (size - 1). */
public record DescriptorTable(long base, int limit) {}
