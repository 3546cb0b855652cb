package dev.kava.hypervisor.qemu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AccelerationTest {

    private static final String AMD_VM = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            model name\t: AMD EPYC
            cpu MHz\t\t: 2096.039
            flags\t\t: fpu vme de pse tsc msr pae constant_tsc
            """;
    private static final String INTEL_VMX = """
            processor\t: 0
            model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz
            flags\t\t: fpu vme vmx tsc
            """;

    @TempDir
    Path root;

    private Path host(String cpuinfo, boolean devKvm, boolean pvm) throws IOException {
        Files.createDirectories(root.resolve("proc"));
        Files.writeString(root.resolve("proc/cpuinfo"), cpuinfo);
        if (devKvm) Files.createFile(Files.createDirectories(root.resolve("dev")).resolve("kvm"));
        if (pvm) Files.createDirectories(root.resolve("sys/module/kvm_pvm"));
        return root;
    }

    @Test
    void pvmHostFallsBackToTcgWithTheTscFromCpuMhz() throws IOException {
        Acceleration a = Acceleration.detect(host(AMD_VM.replace("constant_tsc", "constant_tsc svm"), true, true));
        assertFalse(a.kvm());
        assertEquals("TCG (no hardware virtualization: KVM is PVM)", a.reason());
        assertEquals(2_096_039, a.tscKhz());
        assertEquals(List.of("tsc_early_khz=2096039", "tsc=reliable"), a.kernelParams());
        assertEquals(List.of("-accel", "tcg,thread=multi,tb-size=64", "-cpu", "max"), a.qemuArgs());
    }

    @Test
    void missingDevKvmMeansTcg() throws IOException {
        Acceleration a = Acceleration.detect(host(INTEL_VMX, false, false));
        assertFalse(a.kvm());
        assertEquals("TCG (no hardware virtualization: /dev/kvm is missing)", a.reason());
    }

    @Test
    void devKvmWithoutVmxOrSvmMeansTcg() throws IOException {
        Acceleration a = Acceleration.detect(host(AMD_VM, true, false));
        assertFalse(a.kvm());
        assertTrue(a.reason().contains("no vmx or svm"), a.reason());
    }

    @Test
    void realHardwareVirtualizationMeansKvmWithoutTscParameter() throws IOException {
        Acceleration a = Acceleration.detect(host(INTEL_VMX, true, false));
        assertTrue(a.kvm());
        assertEquals("KVM", a.reason());
        assertEquals(List.of(), a.kernelParams());
        assertEquals(List.of("-accel", "kvm", "-cpu", "host"), a.qemuArgs());
    }

    @Test
    void tscPrefersSysfsThenCpuMhzThenModelNameGhz() throws IOException {
        host(INTEL_VMX.replace("flags", "cpu MHz\t\t: 1200.000\nflags"), false, false);
        assertEquals(1_200_000, Acceleration.detect(root).tscKhz());
        Files.writeString(root.resolve("proc/cpuinfo"), INTEL_VMX);
        assertEquals(2_400_000, Acceleration.detect(root).tscKhz());
        Path sysfs = Files.createDirectories(root.resolve("sys/devices/system/cpu/cpu0")).resolve("tsc_freq_khz");
        Files.writeString(sysfs, "2399999\n");
        assertEquals(2_399_999, Acceleration.detect(root).tscKhz());
    }

    @Test
    void unknownTscIsSaidInTheReasonAndAddsNoParameter() throws IOException {
        Acceleration a = Acceleration.detect(host("processor\t: 0\nflags\t\t: fpu\n", false, false));
        assertEquals(0, a.tscKhz());
        assertTrue(a.reason().contains("TSC frequency unknown"), a.reason());
        assertEquals(List.of("tsc=reliable"), a.kernelParams());
    }

    @Test
    void thisHostIsDetectedWithoutError() {
        Acceleration a = Acceleration.detect();
        System.out.println("this host: " + a);
        assertTrue(a.kvm() || a.reason().startsWith("TCG"));
    }
}
