package dev.kava.vmm.cpu;

import dev.kava.vmm.kvm.CpuidEntry;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns the host's supported CPUID ({@code KVM_GET_SUPPORTED_CPUID}) into what one vCPU shows its
 * guest: its own APIC id and the VM's topology (one thread per core, {@code vcpus} cores in one
 * package), the hypervisor bit, no PMU, and KVM paravirtual features filtered.
 *
 * <h2>Paravirtual hypercalls</h2>
 * Unless {@code pvHypercalls} is set, the KVM features whose use makes a Linux guest issue
 * VMCALL/VMMCALL are hidden: PV_UNHALT (spinlock kick), PV_SEND_IPI, PV_SCHED_YIELD,
 * HC_MAP_GPA_RANGE and MIGRATION_CONTROL. On the PVM hosts this project runs on, a hypercall at
 * (emulated) CPL0 livelocks KVM_RUN; the guest then takes the native paths (IPIs through the APIC,
 * plain spinlocks), which work everywhere. The rest (kvmclock, async PF, steal time, PV EOI, PV
 * TLB flush) needs no hypercall.
 *
 * @param vcpus        vCPUs of the VM
 * @param tscDeadline  the host can emulate the TSC-deadline timer (KVM_CAP_TSC_DEADLINE_TIMER)
 * @param pvHypercalls advertise the hypercall-based KVM features (only where the host really runs them)
 */
public record CpuidPolicy(int vcpus, boolean tscDeadline, boolean pvHypercalls) {
    public static final int LEAF_FEATURES = 0x1;
    public static final int LEAF_CACHE = 0x4;
    public static final int LEAF_PMU = 0xa;
    public static final int LEAF_TOPOLOGY = 0xb;
    public static final int LEAF_TOPOLOGY_V2 = 0x1f;
    public static final int LEAF_KVM_SIGNATURE = 0x4000_0000;
    public static final int LEAF_KVM_FEATURES = 0x4000_0001;
    public static final int LEAF_AMD_SIZE = 0x8000_0008;
    /** Leaf 1 ECX / EDX bits. */
    public static final int ECX_TSC_DEADLINE = 1 << 24;
    public static final int ECX_HYPERVISOR = 1 << 31;
    public static final int EDX_HTT = 1 << 28;
    /** KVM_FEATURE_* bits of leaf 0x40000001 EAX ({@code <asm/kvm_para.h>}). */
    public static final int KVM_FEATURE_PV_UNHALT = 7;
    public static final int KVM_FEATURE_PV_SEND_IPI = 11;
    public static final int KVM_FEATURE_PV_SCHED_YIELD = 13;
    public static final int KVM_FEATURE_HC_MAP_GPA_RANGE = 16;
    public static final int KVM_FEATURE_MIGRATION_CONTROL = 17;
    /** The KVM features hidden unless {@link #pvHypercalls()}. */
    public static final int HYPERCALL_FEATURES = (1 << KVM_FEATURE_PV_UNHALT) | (1 << KVM_FEATURE_PV_SEND_IPI)
            | (1 << KVM_FEATURE_PV_SCHED_YIELD) | (1 << KVM_FEATURE_HC_MAP_GPA_RANGE) | (1 << KVM_FEATURE_MIGRATION_CONTROL);

    public CpuidPolicy {
        if (vcpus < 1 || vcpus > 255) {
            throw new IllegalArgumentException("vcpus must be 1..255: " + vcpus);
        }
    }

    /** The CPUID of vCPU {@code vcpuId} (its APIC id) derived from the host's {@code supported} leaves. */
    public List<CpuidEntry> apply(List<CpuidEntry> supported, int vcpuId) {
        if (vcpuId < 0 || vcpuId >= vcpus) {
            throw new IllegalArgumentException("vCPU " + vcpuId + " of " + vcpus);
        }
        boolean amd = isAmd(supported);
        int coreBits = 32 - Integer.numberOfLeadingZeros(vcpus - 1); // ceil(log2(vcpus)), 0 for 1
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            out.add(switch (e.function()) {
                case LEAF_FEATURES -> {
                    int ebx = (e.ebx() & 0x0000_ffff) | (Math.min(vcpus, 255) << 16) | (vcpuId << 24);
                    int ecx = e.ecx() | ECX_HYPERVISOR;
                    ecx = tscDeadline ? ecx | ECX_TSC_DEADLINE : ecx & ~ECX_TSC_DEADLINE;
                    int edx = vcpus > 1 ? e.edx() | EDX_HTT : e.edx() & ~EDX_HTT;
                    yield e.withEbx(ebx).withEcx(ecx).withEdx(edx);
                }
                case LEAF_CACHE -> e.withEax((e.eax() & 0x03ff_ffff) | ((Math.min(vcpus, 64) - 1) << 26));
                case LEAF_PMU -> e.withEax(0).withEbx(0).withEcx(0).withEdx(0);
                case LEAF_TOPOLOGY, LEAF_TOPOLOGY_V2 -> topology(e, vcpuId, coreBits);
                case LEAF_KVM_FEATURES -> pvHypercalls ? e : e.withEax(e.eax() & ~HYPERCALL_FEATURES);
                case LEAF_AMD_SIZE -> amd ? e.withEcx((e.ecx() & ~0xf0ff) | (coreBits << 12) | (vcpus - 1)) : e;
                default -> e;
            });
        }
        return List.copyOf(out);
    }

    /** Extended topology: SMT level (1 thread per core), core level ({@code vcpus} cores), then invalid. */
    private CpuidEntry topology(CpuidEntry e, int vcpuId, int coreBits) {
        return switch (e.index()) {
            case 0 -> e.withEax(0).withEbx(1).withEcx((1 << 8) | 0).withEdx(vcpuId);
            case 1 -> e.withEax(coreBits).withEbx(vcpus).withEcx((2 << 8) | 1).withEdx(vcpuId);
            default -> e.withEax(0).withEbx(0).withEcx(e.index() & 0xff).withEdx(vcpuId);
        };
    }

    /** Whether leaf 0's vendor is "AuthenticAMD" (EBX, EDX, ECX). */
    static boolean isAmd(List<CpuidEntry> entries) {
        for (CpuidEntry e : entries) {
            if (e.function() == 0) {
                return e.ebx() == 0x6874_7541 && e.edx() == 0x6974_6e65 && e.ecx() == 0x444d_4163;
            }
        }
        return false;
    }
}
