package dev.kava.vmm.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kava.vmm.kvm.CpuidEntry;
import java.util.List;
import org.junit.jupiter.api.Test;

/** CPUID as each vCPU's guest sees it, from a synthetic host leaf set (Intel and AMD). */
class CpuidPolicyTest {
    private static final int ALL_KVM_FEATURES = 0x01ff_ffff;
    static final List<CpuidEntry> INTEL = List.of(
            new CpuidEntry(0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69), // GenuineIntel
            new CpuidEntry(1, 0, 0, 0x000806f8, 0xff_ff_08_00, 0x7ffa_fbff & ~(1 << 31), 0xbfeb_fbff),
            new CpuidEntry(4, 0, 1, 0xfc00_4121, 0x01c0_003f, 0x3f, 0),
            new CpuidEntry(0xa, 0, 0, 0x07300805, 0, 0, 0x603),
            new CpuidEntry(0xb, 0, 1, 1, 2, 0x100, 7),
            new CpuidEntry(0xb, 1, 1, 7, 56, 0x201, 7),
            new CpuidEntry(0xb, 2, 1, 0, 0, 2, 7),
            new CpuidEntry(0x4000_0000, 0, 0, 0x4000_0001, 0x4b4d564b, 0x564b4d56, 0x4d),
            new CpuidEntry(0x4000_0001, 0, 0, ALL_KVM_FEATURES, 0, 0, 0),
            new CpuidEntry(0x8000_0008, 0, 0, 0x3030, 0, 0, 0));

    private static CpuidEntry leaf(List<CpuidEntry> l, int function, int index) {
        return l.stream().filter(e -> e.function() == function && e.index() == index).findFirst().orElseThrow();
    }

    @Test
    void eachVcpuSeesItsOwnApicIdAndTheVmTopology() {
        CpuidPolicy p = new CpuidPolicy(4, true, false);
        for (int id = 0; id < 4; id++) {
            List<CpuidEntry> c = p.apply(INTEL, id);
            CpuidEntry l1 = leaf(c, 1, 0);
            assertEquals(id, l1.ebx() >>> 24, "initial APIC id");
            assertEquals(4, (l1.ebx() >>> 16) & 0xff, "logical processors");
            assertEquals(0x08_00, l1.ebx() & 0xffff, "CLFLUSH size and brand kept");
            assertEquals(CpuidPolicy.EDX_HTT, l1.edx() & CpuidPolicy.EDX_HTT);
            assertEquals(id, leaf(c, 0xb, 0).edx(), "x2APIC id, SMT level");
            assertEquals(id, leaf(c, 0xb, 1).edx());
            assertEquals(1, leaf(c, 0xb, 0).ebx(), "one thread per core");
            assertEquals(0x100, leaf(c, 0xb, 0).ecx(), "level 0 is SMT");
            assertEquals(2, leaf(c, 0xb, 1).eax(), "2 bits of core id for 4 vCPUs");
            assertEquals(4, leaf(c, 0xb, 1).ebx());
            assertEquals(0x201, leaf(c, 0xb, 1).ecx(), "level 1 is core");
            assertEquals(2, leaf(c, 0xb, 2).ecx(), "level 2 invalid");
            assertEquals(3, leaf(c, 4, 0).eax() >>> 26, "cores per package - 1");
            assertEquals(0x3030, leaf(c, 0x8000_0008, 0).eax(), "AMD leaf untouched on Intel");
        }
    }

    @Test
    void theGuestKnowsItIsVirtualAndHasNoPmu() {
        List<CpuidEntry> c = new CpuidPolicy(1, true, false).apply(INTEL, 0);
        CpuidEntry l1 = leaf(c, 1, 0);
        assertEquals(CpuidPolicy.ECX_HYPERVISOR, l1.ecx() & CpuidPolicy.ECX_HYPERVISOR, "hypervisor bit");
        assertEquals(CpuidPolicy.ECX_TSC_DEADLINE, l1.ecx() & CpuidPolicy.ECX_TSC_DEADLINE);
        assertEquals(0, l1.edx() & CpuidPolicy.EDX_HTT, "no HTT with one vCPU");
        assertEquals(new CpuidEntry(0xa, 0, 0, 0, 0, 0, 0), leaf(c, 0xa, 0), "no PMU");
        assertEquals(0, new CpuidPolicy(1, false, false).apply(INTEL, 0).get(1).ecx() & CpuidPolicy.ECX_TSC_DEADLINE,
                "no TSC deadline when KVM cannot emulate it");
    }

    @Test
    void hypercallBasedKvmFeaturesAreHiddenUnlessAskedFor() {
        int eax = leaf(new CpuidPolicy(2, true, false).apply(INTEL, 1), 0x4000_0001, 0).eax();
        assertEquals(0, eax & (1 << CpuidPolicy.KVM_FEATURE_PV_UNHALT), "no PV spinlock kick");
        assertEquals(0, eax & (1 << CpuidPolicy.KVM_FEATURE_PV_SEND_IPI), "no PV send-IPI");
        assertEquals(0, eax & (1 << CpuidPolicy.KVM_FEATURE_PV_SCHED_YIELD), "no PV sched-yield");
        assertEquals(0, eax & (1 << CpuidPolicy.KVM_FEATURE_HC_MAP_GPA_RANGE));
        assertEquals(ALL_KVM_FEATURES & ~CpuidPolicy.HYPERCALL_FEATURES, eax, "everything else kept (kvmclock, PV EOI, ...)");
        assertEquals(ALL_KVM_FEATURES, leaf(new CpuidPolicy(2, true, true).apply(INTEL, 1), 0x4000_0001, 0).eax());
    }

    @Test
    void amdGetsItsCoreCountLeaf() {
        List<CpuidEntry> amd = List.of(new CpuidEntry(0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),
                new CpuidEntry(0x8000_0008, 0, 0, 0x3030, 0, 0xf00f, 0));
        CpuidEntry e = leaf(new CpuidPolicy(3, false, false).apply(amd, 2), 0x8000_0008, 0);
        assertEquals(2, e.ecx() & 0xff, "NC = vCPUs - 1");
        assertEquals(2, (e.ecx() >> 12) & 0xf, "ApicIdCoreIdSize");
    }

    @Test
    void badVcpuNumbersAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new CpuidPolicy(0, false, false));
        assertThrows(IllegalArgumentException.class, () -> new CpuidPolicy(2, false, false).apply(INTEL, 2));
    }
}
