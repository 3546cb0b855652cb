package dev.kava.vmm;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.vmm.kvm.KvmSupport;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where there is no KVM, building a VM fails cleanly, says why, and leaves nothing behind. */
class VmmWithoutKvmTest {
    @Test
    void creatingAVmWithoutKvmFailsWithTheReason(@TempDir Path dir) {
        Assumptions.assumeFalse(KvmSupport.detect().usable(), "this host has KVM: KvmGuestTest covers it");
        long threads = Thread.getAllStackTraces().size();
        VmSpec spec = new VmSpec(1, 64L << 20, new VmSpec.Program(new byte[] {(byte) 0xf4}, 0x100000, false),
                List.of(new DeviceSpec.Vsock(3, dir.resolve("v.sock"))), VmSpec.SerialConsole.toFile(dir.resolve("c.log")), false);
        VmmException e = assertThrows(VmmException.class, () -> Vmm.create(spec));
        assertTrue(e.getMessage().contains("/dev/kvm"), e.getMessage());
        assertTrue(Thread.getAllStackTraces().size() <= threads, "no thread left running");
        assertTrue(!dir.resolve("v.sock").toFile().exists(), "no device was created before KVM was there");
    }

    @Test
    void specsAreValidatedBeforeAnythingIsOpened() {
        var boot = new VmSpec.Program(new byte[1], 0x100000, false);
        assertThrows(IllegalArgumentException.class, () -> new VmSpec(0, 64L << 20, boot, List.of(), VmSpec.SerialConsole.none(), false));
        assertThrows(IllegalArgumentException.class, () -> new VmSpec(33, 64L << 20, boot, List.of(), VmSpec.SerialConsole.none(), false));
        assertThrows(IllegalArgumentException.class, () -> new VmSpec(1, 3L << 20, boot, List.of(), VmSpec.SerialConsole.none(), false));
        assertThrows(IllegalArgumentException.class, () -> new DeviceSpec.Net("tap0", null, new byte[5]));
        List<DeviceSpec> many = java.util.Collections.nCopies(17, new DeviceSpec.Rng());
        assertThrows(IllegalArgumentException.class, () -> new VmSpec(1, 64L << 20, boot, many, VmSpec.SerialConsole.none(), false));
    }
}
