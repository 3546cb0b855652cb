package dev.kava.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.virtio.memory.GuestMemory;
import dev.kava.vmm.kvm.KvmSupport;
import dev.kava.vmm.vcpu.Vcpu;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real KVM, small guest programs ({@link GuestPrograms}, sources in {@code src/test/resources/guest}):
 * long-mode entry with the boot code's tables, port I/O to the UART, a virtio-mmio driver in the
 * guest negotiating with a real device and completing a request through an ioeventfd, an irqfd
 * interrupt through the IOAPIC to a guest handler, pause/resume, two vCPUs, the i8042 reset. They
 * need {@code /dev/kvm} (PVM is enough: CPL0 is emulated, slowly; timeouts allow for it) and skip,
 * saying why, where there is none.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KvmGuestTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    @TempDir
    Path dir;
    private Vmm vmm;

    @BeforeEach
    void needKvm() {
        KvmSupport kvm = KvmSupport.detect();
        if (!kvm.usable()) {
            System.out.println("SKIP KvmGuestTest: " + kvm.unusableReason()
                    + " (these guest programs need /dev/kvm; PVM would do)");
        }
        Assumptions.assumeTrue(kvm.usable(), kvm.unusableReason());
    }

    @AfterEach
    void close() {
        if (vmm != null) {
            vmm.close();
        }
    }

    private Path console() {
        return dir.resolve("console.log");
    }

    private Vmm program(byte[] code, int vcpus, boolean allVcpus, List<DeviceSpec> devices) {
        vmm = Vmm.create(new VmSpec(vcpus, 64L << 20, new VmSpec.Program(code, GuestPrograms.LOAD_ADDRESS, allVcpus), devices,
                VmSpec.SerialConsole.toFile(console()), false));
        vmm.start();
        return vmm;
    }

    private String consoleText() {
        try {
            return Files.exists(console()) ? Files.readString(console(), StandardCharsets.ISO_8859_1) : "";
        } catch (java.io.IOException e) {
            return "";
        }
    }

    private void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (vmm.exit().isDone()) {
                throw new AssertionError("the VM ended (" + vmm.exit().join() + ") before " + what + "; console: " + consoleText());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what + "; console: " + consoleText());
            }
            Thread.sleep(5);
        }
    }

    @Test
    void theVcpuEntersLongModeWithTheBootTablesAndWritesToTheSerialPort() throws Exception {
        program(GuestPrograms.LONG_MODE_SERIAL, 1, false, List.of());
        await(() -> consoleText().endsWith("\n"), "the program's line");
        assertEquals("KAVA LM\n", consoleText(), "64-bit code ran, CR0.PG and EFER.LMA set");
        assertTrue(vmm.stats().portExits() >= 8, "each OUT to the UART was a port exit");
        System.out.println("create to first KVM_RUN: " + vmm.createToFirstEntryNanos() / 1000 + " µs");
        vmm.stop();
        assertInstanceOf(VmExit.Stopped.class, vmm.exit().get(10, TimeUnit.SECONDS));
        assertEquals(List.of(Vcpu.State.STOPPED), vmm.vcpuStates());
    }

    @Test
    void aGuestVirtioDriverNegotiatesWithARealDeviceAndCompletesARequestWithoutANotifyExit() throws Exception {
        program(GuestPrograms.VIRTIO_RNG, 1, false, List.of(new DeviceSpec.Rng()));
        await(() -> consoleText().endsWith("\n"), "the driver's verdict");
        assertEquals("OK\n", consoleText());
        GuestMemory m = vmm.memory();
        assertEquals(1, m.readU16(0x202002), "used.idx");
        assertEquals(0, m.readU32(0x202004), "used.ring[0].id: descriptor 0");
        assertEquals(16, m.readU32(0x202008), "used.ring[0].len: 16 random bytes");
        assertFalse(m.readU64(0x203000) == 0 && m.readU64(0x203008) == 0, "the buffer holds random bytes");
        assertEquals(0, vmm.stats().notifyExits(), "QueueNotify never left the kernel: the ioeventfd took it");
        assertEquals(1, vmm.transports().getFirst().notifications(), "and the device was notified once");
        assertTrue(vmm.stats().mmioExits() > 10, "the register accesses themselves were MMIO exits");
    }

    @Test
    void anIrqfdInterruptReachesAGuestHandlerThroughTheIoapic() throws Exception {
        program(GuestPrograms.IOAPIC_IRQ, 1, false, List.of(new DeviceSpec.Rng()));
        await(() -> consoleText().equals("R"), "the guest to be ready");
        assertEquals(5, vmm.slots().getFirst().irq());
        vmm.transports().getFirst().usedBuffers(0); // an edge on GSI 5 through its irqfd
        await(() -> consoleText().equals("RI"), "the handler");
    }

    @Test
    void pauseHoldsTheVcpusAndResumeLetsThemGo() throws Exception {
        program(GuestPrograms.COUNTER, 1, false, List.of());
        await(() -> consoleText().equals("C"), "the counter to start");
        GuestMemory m = vmm.memory();
        long a = m.readU64(0x400000);
        await(() -> {
            try {
                return m.readU64(0x400000) > a;
            } catch (Exception e) {
                return false;
            }
        }, "the counter to move");
        vmm.pause();
        assertEquals(List.of(Vcpu.State.PAUSED), vmm.vcpuStates());
        long p1 = m.readU64(0x400000);
        Thread.sleep(200);
        assertEquals(p1, m.readU64(0x400000), "no guest instruction ran while paused");
        vmm.resume();
        await(() -> {
            try {
                return m.readU64(0x400000) > p1;
            } catch (Exception e) {
                return false;
            }
        }, "the counter to move again");
        assertTrue(vmm.stats().kicks() >= 1, "the pause kicked the vCPU out of KVM_RUN");
    }

    @Test
    void twoVcpusRunAtOnceEachWithItsOwnApicId() throws Exception {
        program(GuestPrograms.SMP_APIC_ID, 2, true, List.of());
        await(() -> consoleText().length() == 2, "both vCPUs");
        String out = consoleText();
        assertTrue(out.contains("0") && out.contains("1"), out);
    }

    @Test
    void theI8042ResetEndsTheVm() throws Exception {
        program(GuestPrograms.I8042_RESET, 1, false, List.of());
        VmExit exit = vmm.exit().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertInstanceOf(VmExit.GuestReset.class, exit);
        assertEquals(List.of(Vcpu.State.STOPPED), vmm.vcpuStates());
    }
}
