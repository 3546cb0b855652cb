package dev.kava.runtime.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.hypervisor.HypervisorProvider;
import dev.kava.runtime.KavaException;
import dev.kava.vmm.kvm.KvmSupport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** "auto" picks the built-in VMM only with hardware virtualization, and says why it did not. */
class HypervisorsTest {
    @Test
    void autoSaysWhyItChoseWhatItChose() {
        HypervisorProvider qemu = HypervisorProvider.find("qemu").orElseThrow();
        Assumptions.assumeTrue(qemu.availability().available() || KvmSupport.detect().bootsLinux(),
                "neither qemu nor hardware virtualization on this host");
        Hypervisors.Choice c = Hypervisors.choose("auto");
        System.out.println("auto: " + c.why());
        String cause = KvmSupport.detect().noLinuxReason();
        if (cause == null) {
            // hardware virtualization: the built-in VMM is available, but "auto" does not use it yet
            assertEquals("qemu", c.provider().name());
            assertTrue(c.why().startsWith("builtin is not used by \"auto\" yet"), c.why());
        } else {
            assertEquals("qemu", c.provider().name());
            String mode = qemu.availability().reason().startsWith("TCG") ? "TCG" : "KVM";
            assertEquals(cause + (cause.contains(":") ? "; " : ": ") + "using qemu with " + mode, c.why());
        }
    }

    @Test
    void aConfiguredPluginIsTakenAsIsAndAnUnknownOneRefused() {
        Assumptions.assumeTrue(HypervisorProvider.find("qemu").orElseThrow().availability().available(), "no qemu here");
        Hypervisors.Choice c = Hypervisors.choose("qemu");
        assertEquals("qemu", c.provider().name());
        assertTrue(c.why().startsWith("using qemu (configured): "), c.why());
        assertThrows(KavaException.class, () -> Hypervisors.choose("nope"));
    }
}
