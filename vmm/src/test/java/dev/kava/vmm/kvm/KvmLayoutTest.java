package dev.kava.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.vmm.cpu.CpuidPolicy;
import dev.kava.linux.testing.CHeaders;
import java.lang.foreign.StructLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every KVM struct layout this VMM builds in native memory, every ioctl number, every KVM_*
 * constant, the {@code kvm_run} fields it reads, and the KVM PV feature bits CPUID filters,
 * checked against {@code <linux/kvm.h>}, {@code <asm/kvm.h>} and {@code <asm/kvm_para.h>} with gcc.
 * Runs without {@code /dev/kvm}.
 */
class KvmLayoutTest {
    private static final List<String> HEADERS = List.of("linux/kvm.h", "asm/kvm_para.h");

    @Test
    void structsIoctlsAndConstantsMatchLinuxKvmH(@TempDir Path dir) throws Exception {
        Map<String, Long> expected = new LinkedHashMap<>();
        for (StructLayout s : KvmLayouts.ALL) {
            String type = s.name().orElseThrow();
            boolean flexible = type.equals("struct kvm_msrs") || type.equals("struct kvm_cpuid2")
                    || type.equals("struct kvm_signal_mask");
            CHeaders.addStruct(expected, s, !flexible);
        }
        // the flexible arrays start right after their headers
        expected.put("offsetof(struct kvm_msrs, entries)", KvmLayouts.KVM_MSRS.byteSize());
        expected.put("offsetof(struct kvm_cpuid2, entries)", KvmLayouts.KVM_CPUID2.byteSize());
        expected.put("offsetof(struct kvm_signal_mask, sigset)", KvmLayouts.KVM_SIGNAL_MASK.byteSize());
        expected.put("sizeof(struct kvm_lapic_state)", (long) KvmConstants.KVM_APIC_REG_SIZE);
        for (Object[] f : KvmLayouts.RUN_FIELDS) {
            expected.put("offsetof(struct kvm_run, " + f[0] + ")", (Long) f[1]);
            expected.put("sizeof(((struct kvm_run *)0)->" + f[0] + ")", (Long) f[2]);
        }
        expected.put("offsetof(struct kvm_run, s) >= " + KvmLayouts.RUN_MIN_SIZE, 1L);
        for (Class<?> holder : List.of(KvmConstants.class, KvmIoctls.class)) {
            CHeaders.addConstants(expected, holder, f -> true, name -> name);
        }
        expected.put("KVM_CPUID_FLAG_SIGNIFCANT_INDEX", (long) CpuidEntry.FLAG_SIGNIFICANT_INDEX);
        expected.put("KVM_CPUID_SIGNATURE", (long) CpuidPolicy.LEAF_KVM_SIGNATURE);
        expected.put("KVM_CPUID_FEATURES", (long) CpuidPolicy.LEAF_KVM_FEATURES);
        expected.put("KVM_FEATURE_PV_UNHALT", (long) CpuidPolicy.KVM_FEATURE_PV_UNHALT);
        expected.put("KVM_FEATURE_PV_SEND_IPI", (long) CpuidPolicy.KVM_FEATURE_PV_SEND_IPI);
        expected.put("KVM_FEATURE_PV_SCHED_YIELD", (long) CpuidPolicy.KVM_FEATURE_PV_SCHED_YIELD);
        expected.put("KVM_FEATURE_HC_MAP_GPA_RANGE", (long) CpuidPolicy.KVM_FEATURE_HC_MAP_GPA_RANGE);
        expected.put("KVM_FEATURE_MIGRATION_CONTROL", (long) CpuidPolicy.KVM_FEATURE_MIGRATION_CONTROL);
        expected.put("KVM_SYSTEM_EVENT_RESET", (long) VcpuExit.SystemEvent.RESET);
        assertTrue(expected.size() > 200, "checks: " + expected.size());
        CHeaders.assertMatch(dir, HEADERS, expected);
    }
}
