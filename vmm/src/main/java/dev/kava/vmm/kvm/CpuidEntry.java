package dev.kava.vmm.kvm;

/**
 * One CPUID leaf (and sub-leaf), {@code struct kvm_cpuid_entry2}.
 *
 * @param function the leaf (EAX input)
 * @param index    the sub-leaf (ECX input), significant when {@code flags} has
 *                 {@link #FLAG_SIGNIFICANT_INDEX}
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** {@code KVM_CPUID_FLAG_SIGNIFCANT_INDEX} (sic). */
    public static final int FLAG_SIGNIFICANT_INDEX = 1;

    public CpuidEntry withEax(int v) {
        return new CpuidEntry(function, index, flags, v, ebx, ecx, edx);
    }

    public CpuidEntry withEbx(int v) {
        return new CpuidEntry(function, index, flags, eax, v, ecx, edx);
    }

    public CpuidEntry withEcx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, v, edx);
    }

    public CpuidEntry withEdx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, v);
    }
}
