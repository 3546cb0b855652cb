package dev.kava.hypervisor.qemu;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.hypervisor.VmConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Boots real microvm guests (TCG here, KVM where the host has it) with the kava guest kernel. */
@Tag("vm")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QemuHypervisorTest {

    private static final Duration BOOT = Duration.ofSeconds(20);
    private static final Duration GUEST = Duration.ofSeconds(30);

    @TempDir
    static Path shared;

    private Path kernel;
    private Path image;
    private final List<Hypervisor> vms = new ArrayList<>();
    private int count;

    @BeforeAll
    void kernelAndImage() throws Exception {
        TestGuest.assumeGuestsCanRun("QemuHypervisorTest");
        kernel = TestGuest.kernel();
        image = TestGuest.buildImage(Files.createDirectories(shared.resolve("image")));
    }

    @AfterEach
    void closeAll() {
        vms.forEach(Hypervisor::close);
        vms.clear();
    }

    private record Vm(QemuHypervisor hv, Path stateDir, Path console) {
    }

    private Vm vm(List<String> params, boolean debugConsole) throws IOException {
        return vm(kernel, image, params, debugConsole);
    }

    private Vm vm(Path kernel, Path image, List<String> params, boolean debugConsole) throws IOException {
        String id = "t" + (++count);
        Path stateDir = Files.createDirectories(shared.resolve("run").resolve(id));
        Path console = shared.resolve(id + "-console.log");
        QemuHypervisor hv = (QemuHypervisor) new QemuProvider().create(id, stateDir);
        vms.add(hv);
        hv.prepare(new VmConfig(1, 128, kernel, image, params, console, debugConsole));
        return new Vm(hv, stateDir, console);
    }

    /** Launch, connect to agent.0 and wait for the init's "ready"; prints launch-to-first-line. */
    private SerialConnection boot(Vm vm) throws Exception {
        long t0 = System.nanoTime();
        vm.hv.start(BOOT);
        long qmpMs = (System.nanoTime() - t0) / 1_000_000;
        SerialConnection serial = new SerialConnection(vm.hv.agentEndpoint());
        String first = serial.readLine(GUEST);
        long readyMs = (System.nanoTime() - t0) / 1_000_000;
        assertEquals("ready", first, () -> "guest never said ready; console:\n" + read(vm.console));
        System.out.printf("boot %s: QMP answered after %d ms, first agent.0 line after %d ms%n",
                vm.stateDir.getFileName(), qmpMs, readyMs);
        return serial;
    }

    private static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p, StandardCharsets.UTF_8) : "(no " + p + ")";
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static void assertEchoes(SerialConnection serial, String text) throws Exception {
        serial.writeLine(text);
        assertEquals("echo:" + text, serial.readLine(GUEST));
    }

    /** No process with that pid, no process naming the state dir, and an empty state dir. */
    private static void assertNothingLeft(long pid, Path stateDir) throws IOException {
        assertFalse(Files.exists(Path.of("/proc/" + pid)), "qemu pid " + pid + " still exists");
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            List<String> leftovers = procs.filter(p -> p.getFileName().toString().matches("[0-9]+"))
                    .map(p -> {
                        try {
                            return new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                        } catch (IOException gone) {
                            return "";
                        }
                    }).filter(c -> c.contains(stateDir.toString())).toList();
            assertEquals(List.of(), leftovers, "processes still using " + stateDir);
        }
        try (Stream<Path> files = Files.list(stateDir)) {
            assertEquals(List.of(), files.toList(), "files left in the state dir");
        }
    }

    @Test
    void bootsToInitAndEchoesWhatTheHostSendsOverTheAgentPort() throws Exception {
        Vm vm = vm(List.of(), false);
        System.out.println("qemu argv: " + String.join(" ", vm.hv.commandLine()));
        try (SerialConnection serial = boot(vm)) {
            assertEchoes(serial, "hello guest");
            assertEchoes(serial, "a second line");
            assertTrue(vm.hv.isRunning());
            List<Long> threads = vm.hv.threadIds();
            assertTrue(threads.contains(vm.hv.pid().orElseThrow()), "main thread listed: " + threads);
            assertTrue(threads.size() >= 2, "qemu has a vCPU thread besides main: " + threads);
            System.out.println("qemu threads for 1 vCPU: " + threads.size());
            assertTrue(vm.hv.capabilities().virtioFs());
        }
    }

    @Test
    void consoleLogHoldsTheKernelBootMessages() throws Exception {
        Vm vm = vm(List.of(), true);
        try (SerialConnection serial = boot(vm)) {
            String console = read(vm.console);
            assertTrue(console.contains("Linux version"), console);
            assertTrue(console.contains("virtio_mmio"), console);
            assertTrue(console.contains("kava-test-init: up"), console);
            // under TCG the RTC is on: without it the kernel wastes ~1.5 s polling a missing CMOS clock
            assertFalse(console.contains("Unable to read current time from RTC"), console);
            assertEchoes(serial, "after the console check");
        }
    }

    @Test
    void fileTheGuestWritesIntoANinePShareAppearsOnTheHost() throws Exception {
        Path dir = Files.createDirectories(shared.resolve("share"));
        Vm vm = vm(List.of("kava.share=hostshare"), false);
        vm.hv.addDevice(new Device.SharedFs("hostshare", dir, Device.SharedFs.Kind.NINE_P));
        try (SerialConnection serial = boot(vm)) {
            assertEquals("written by the guest\n", Files.readString(dir.resolve("from-guest.txt")),
                    () -> "console:\n" + read(vm.console));
            assertEchoes(serial, "after the share check");
        }
    }

    @Test
    void pauseFreezesTheGuestAndResumeLetsItAnswer() throws Exception {
        Vm vm = vm(List.of(), false);
        try (SerialConnection serial = boot(vm)) {
            assertEquals("running", vm.hv.status());
            vm.hv.pause();
            assertEquals("paused", vm.hv.status());
            serial.writeLine("while paused");
            assertNull(serial.readLine(Duration.ofMillis(500)), "a paused guest answered");
            vm.hv.resume();
            assertEquals("running", vm.hv.status());
            assertEquals("echo:while paused", serial.readLine(GUEST));
        }
    }

    @Test
    void guestRebootMakesQemuExitByItself() throws Exception {
        Vm vm = vm(List.of("kava.test=reboot"), false);
        long t0 = System.nanoTime();
        vm.hv.start(BOOT);
        int code = vm.hv.exited().get(GUEST.toSeconds(), TimeUnit.SECONDS);
        System.out.printf("reboot -f: qemu exited with %d after %d ms from launch%n", code,
                (System.nanoTime() - t0) / 1_000_000);
        assertEquals(0, code);
        assertFalse(vm.hv.isRunning());
        assertTrue(read(vm.console).contains("kava-test-init: rebooting"));
        long pid = vm.hv.pid().orElseThrow();
        vm.hv.close();
        assertNothingLeft(pid, vm.stateDir);
    }

    @Test
    void stopLeavesNoProcessNoSocketsAndNoPidFile() throws Exception {
        Vm vm = vm(List.of(), false);
        SerialConnection serial = boot(vm);
        long pid = vm.hv.pid().orElseThrow();
        assertTrue(Files.exists(vm.stateDir.resolve("qmp.sock")));
        assertTrue(Files.exists(vm.stateDir.resolve("qemu.pid")));
        long t0 = System.nanoTime();
        vm.hv.stop(Duration.ofSeconds(5));
        System.out.printf("stop: %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        assertFalse(vm.hv.isRunning());
        assertTrue(vm.hv.exited().isDone());
        assertNull(serial.readLine(Duration.ofSeconds(2)), "agent stream ends with the VM");
        serial.close();
        for (String f : List.of("qmp.sock", "agent.sock", "qemu.pid")) {
            assertFalse(Files.exists(vm.stateDir.resolve(f)), f + " left behind");
        }
        vm.hv.close();
        vm.hv.close(); // idempotent
        assertNothingLeft(pid, vm.stateDir);
        assertThrows(HypervisorException.class, vm.hv::pause);
    }

    @Test
    void kernelThatIsNotAKernelFailsStartWithQemusReasonAndLeavesNothing() throws Exception {
        Path notAKernel = Files.writeString(shared.resolve("not-a-kernel"), "this is not a kernel\n".repeat(200));
        Vm vm = vm(notAKernel, image, List.of(), false);
        HypervisorException e = assertThrows(HypervisorException.class, () -> vm.hv.start(BOOT));
        System.out.println("not a kernel -> " + e.getMessage());
        assertTrue(e.getMessage().contains("QEMU exited with code 1"), e.getMessage());
        assertTrue(e.getMessage().toLowerCase().contains("kernel"), e.getMessage());
        long pid = vm.hv.pid().orElseThrow();
        assertFalse(vm.hv.isRunning());
        vm.hv.close();
        assertNothingLeft(pid, vm.stateDir);
    }

    @Test
    void missingRootImageIsRefusedNamingTheImage() throws Exception {
        Path missing = shared.resolve("no-such-root.ext4");
        HypervisorException e = assertThrows(HypervisorException.class, () -> vm(kernel, missing, List.of(), false));
        assertTrue(e.getMessage().contains("root image " + missing), e.getMessage());
        Hypervisor hv = vms.getLast();
        hv.close();
        assertNothingLeft(Long.MAX_VALUE, shared.resolve("run").resolve("t" + count));
    }

    @Test
    void rootImageRemovedBeforeStartFailsWithQemusReason() throws Exception {
        Path copy = Files.copy(image, shared.resolve("vanishing.ext4"));
        Vm vm = vm(kernel, copy, List.of(), false);
        Files.delete(copy);
        HypervisorException e = assertThrows(HypervisorException.class, () -> vm.hv.start(BOOT));
        assertTrue(e.getMessage().contains(copy.toString()), e.getMessage());
        long pid = vm.hv.pid().orElseThrow();
        vm.hv.close();
        assertNothingLeft(pid, vm.stateDir);
    }

    @Test
    void startThatTimesOutKillsQemu() throws Exception {
        Vm vm = vm(List.of(), false);
        HypervisorException e = assertThrows(HypervisorException.class, () -> vm.hv.start(Duration.ofMillis(1)));
        assertTrue(e.getMessage().contains("did not answer on QMP within 1 ms")
                || e.getMessage().contains("before QMP answered"), e.getMessage());
        long pid = vm.hv.pid().orElseThrow();
        assertFalse(vm.hv.isRunning());
        vm.hv.close();
        assertNothingLeft(pid, vm.stateDir);
    }

    @Test
    void twoVmsRunAtOnceEachWithItsOwnAgentChannel() throws Exception {
        Vm a = vm(List.of(), false);
        Vm b = vm(List.of(), false);
        a.hv.start(BOOT);
        b.hv.start(BOOT);
        assertNotEquals(a.hv.pid(), b.hv.pid());
        try (SerialConnection sa = new SerialConnection(a.hv.agentEndpoint());
             SerialConnection sb = new SerialConnection(b.hv.agentEndpoint())) {
            assertEquals("ready", sa.readLine(GUEST));
            assertEquals("ready", sb.readLine(GUEST));
            assertEchoes(sa, "to a");
            assertEchoes(sb, "to b");
        }
        long pa = a.hv.pid().orElseThrow();
        long pb = b.hv.pid().orElseThrow();
        a.hv.close();
        assertTrue(b.hv.isRunning(), "closing one VM leaves the other running");
        b.hv.close();
        assertNothingLeft(pa, a.stateDir);
        assertNothingLeft(pb, b.stateDir);
    }
}
