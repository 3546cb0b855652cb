package dev.kava.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Host detection against fake /dev, /sys and /proc trees. */
class KvmSupportTest {
    @TempDir
    Path root;

    private void cpuinfo(String flags) throws Exception {
        Files.createDirectories(root.resolve("proc"));
        Files.writeString(root.resolve("proc/cpuinfo"), "processor\t: 0\nflags\t\t: fpu vme " + flags + " sse\n\nprocessor\t: 1\n");
    }

    @Test
    void noDevKvm() throws Exception {
        cpuinfo("vmx");
        KvmSupport s = KvmSupport.detect(root);
        assertFalse(s.usable());
        assertFalse(s.bootsLinux());
        assertEquals("no /dev/kvm", s.noLinuxReason());
    }

    @Test
    void pvmRunsProgramsButNotLinux() throws Exception {
        cpuinfo("");
        Files.createDirectories(root.resolve("dev"));
        Files.writeString(root.resolve("dev/kvm"), "");
        Files.createDirectories(root.resolve("sys/module/kvm_pvm"));
        KvmSupport s = KvmSupport.detect(root);
        assertTrue(s.usable());
        assertFalse(s.bootsLinux());
        assertTrue(s.noLinuxReason().startsWith("KVM is PVM"), s.noLinuxReason());
    }

    @Test
    void hardwareVirtualizationBootsLinux() throws Exception {
        cpuinfo("svm");
        Files.createDirectories(root.resolve("dev"));
        Files.writeString(root.resolve("dev/kvm"), "");
        KvmSupport s = KvmSupport.detect(root);
        assertTrue(s.bootsLinux());
        assertNull(s.noLinuxReason());
        assertEquals("svm", s.hardware());
    }

    @Test
    void noFlagsNoLinux() throws Exception {
        cpuinfo("hypervisor");
        Files.createDirectories(root.resolve("dev"));
        Files.writeString(root.resolve("dev/kvm"), "");
        KvmSupport s = KvmSupport.detect(root);
        assertTrue(s.usable());
        assertTrue(s.noLinuxReason().startsWith("no vmx or svm"), s.noLinuxReason());
        assertNull(KvmSupport.hardwareFlag("flags : vmxx svm2"), "whole words only");
    }

    @Test
    void thisHostIsDescribed() {
        KvmSupport here = KvmSupport.detect();
        System.out.println("this host: " + here);
        assertEquals(Files.exists(Path.of("/dev/kvm")), here.devKvm());
    }
}
