package dev.kava.hypervisor.builtin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kava.hypervisor.AgentEndpoint;
import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.hypervisor.HypervisorProvider;
import dev.kava.hypervisor.VmConfig;
import dev.kava.vmm.DeviceSpec;
import dev.kava.vmm.VmExit;
import dev.kava.vmm.VmSpec;
import dev.kava.vmm.kvm.KvmSupport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The builtin plugin without KVM: availability, the VM it would build, and its rules. */
class BuiltinProviderTest {
    @TempDir
    Path dir;

    private static final KvmSupport HARDWARE = new KvmSupport(true, true, false, "vmx");

    @Test
    void itIsFoundByServiceLoaderNextToQemu() {
        assertTrue(HypervisorProvider.find("builtin").isPresent());
        assertTrue(HypervisorProvider.find("qemu").isPresent());
    }

    @Test
    void availabilitySaysWhy() {
        assertEquals(new HypervisorProvider.Availability(false, "no /dev/kvm: the built-in VMM needs hardware virtualization"),
                new BuiltinProvider(() -> new KvmSupport(false, false, false, "vmx")).availability());
        HypervisorProvider.Availability pvm = new BuiltinProvider(() -> new KvmSupport(true, true, true, null)).availability();
        assertFalse(pvm.available());
        assertTrue(pvm.reason().startsWith("KVM is PVM"), pvm.reason());
        HypervisorProvider.Availability hw = new BuiltinProvider(() -> HARDWARE).availability();
        assertTrue(hw.available(), hw.reason());
        assertTrue(hw.reason().contains("vmx"));
        HypervisorProvider.Availability here = new BuiltinProvider().availability();
        System.out.println("builtin here: " + here);
        assertEquals(KvmSupport.detect().bootsLinux(), here.available());
    }

    @Test
    void createIsRefusedWhereItIsNotAvailable() {
        HypervisorException e = assertThrows(HypervisorException.class,
                () -> new BuiltinProvider(() -> new KvmSupport(false, false, false, null)).create("sb1", dir));
        assertTrue(e.getMessage().contains("no /dev/kvm"), e.getMessage());
        assertThrows(HypervisorException.class, () -> new BuiltinProvider(() -> HARDWARE).create("../x", dir));
    }

    private BuiltinHypervisor prepared(List<String> params, boolean debug) throws Exception {
        Path kernel = Files.writeString(dir.resolve("bzImage"), "k");
        Path root = Files.writeString(dir.resolve("root.img"), "r");
        BuiltinHypervisor h = (BuiltinHypervisor) new BuiltinProvider(() -> HARDWARE).create("sb1", dir.resolve("state"));
        h.prepare(new VmConfig(2, 255, kernel, root, params, dir.resolve("console.log"), debug));
        return h;
    }

    @Test
    void theVmHasTheRootDiskFirstThenBlocksRngAndHybridVsock() throws Exception {
        BuiltinHypervisor h = prepared(List.of("foo=bar"), false);
        Path extra = Files.writeString(dir.resolve("data.img"), "d");
        h.addDevice(new Device.BlockDevice(extra, false));
        VmSpec spec = h.vmSpec();
        assertEquals(2, spec.vcpus());
        assertEquals(256L << 20, spec.memoryBytes(), "rounded up to whole 2 MiB pages");
        assertEquals(new DeviceSpec.Block(dir.resolve("root.img"), true, "kava-root"), spec.devices().get(0), "/dev/vda, read-only");
        assertEquals(new DeviceSpec.Block(extra, false, "kava-blk1"), spec.devices().get(1), "/dev/vdb");
        assertInstanceOf(DeviceSpec.Rng.class, spec.devices().get(2));
        DeviceSpec.Vsock v = assertInstanceOf(DeviceSpec.Vsock.class, spec.devices().get(3));
        assertEquals(dir.resolve("state/vsock.sock"), v.socket());
        assertEquals(new AgentEndpoint.HybridVsock(dir.resolve("state/vsock.sock"), 1024), h.agentEndpoint());
        VmSpec.LinuxKernel k = assertInstanceOf(VmSpec.LinuxKernel.class, spec.boot());
        List<String> cmd = List.of(k.commandLine().split(" "));
        assertTrue(cmd.containsAll(List.of("console=ttyS0", "reboot=k", "panic=-1", "root=/dev/vda", "ro", "quiet", "foo=bar")), cmd.toString());
        assertEquals("foo=bar", cmd.getLast(), "the caller's parameters come last and win");
        assertFalse(spec.pvHypercalls(), "no hypercall-based PV features by default");
        assertEquals(dir.resolve("console.log"), spec.serial().log());
        assertTrue(prepared(List.of(), true).vmSpec().boot() instanceof VmSpec.LinuxKernel l && l.commandLine().contains("loglevel=7"));
    }

    @Test
    void aVirtioFsShareBecomesAnInlineDeviceAnd9pIsRefused() throws Exception {
        BuiltinHypervisor h = prepared(List.of(), false);
        Path share = Files.createDirectories(dir.resolve("share"));
        HypervisorException nineP = assertThrows(HypervisorException.class,
                () -> h.addDevice(new Device.SharedFs("kavashare", share, Device.SharedFs.Kind.NINE_P)));
        assertTrue(nineP.getMessage().contains("no virtio-9p"), nineP.getMessage());
        assertThrows(HypervisorException.class, () -> h.addDevice(
                new Device.SharedFs("gone", dir.resolve("missing"), Device.SharedFs.Kind.VIRTIO_FS)));
        h.addDevice(new Device.SharedFs("kavashare", share, Device.SharedFs.Kind.VIRTIO_FS, Device.SharedFs.Cache.NONE));
        assertThrows(HypervisorException.class, () -> h.addDevice(
                new Device.SharedFs("kavashare", share, Device.SharedFs.Kind.VIRTIO_FS)), "one device per tag");
        List<DeviceSpec> devices = h.vmSpec().devices();
        assertEquals(new DeviceSpec.Fs("kavashare", share, dev.kava.virtio.fs.CacheMode.NONE), devices.get(1),
                "after the root disk, before rng and vsock");
        assertInstanceOf(DeviceSpec.Rng.class, devices.get(2));
        assertInstanceOf(DeviceSpec.Vsock.class, devices.get(3));
        assertThrows(IllegalArgumentException.class, () -> new DeviceSpec.Fs("x".repeat(37), share,
                dev.kava.virtio.fs.CacheMode.AUTO), "virtio-fs tags are at most 36 bytes");
        assertFalse(h.capabilities().sharedFs9p());
        assertTrue(h.capabilities().virtioFs());
        assertTrue(h.capabilities().vsock());
        assertTrue(h.capabilities().hardwareAcceleration());
        assertThrows(HypervisorException.class, () -> h.addDevice(new Device.BlockDevice(dir.resolve("missing.img"), true)));
        assertThrows(HypervisorException.class, h::pause, "pause needs a running VM");
        assertFalse(h.isRunning());
        assertTrue(h.pid().isEmpty(), "in-process: no VM pid");
        assertEquals(List.of(), h.threadIds());
        h.close();
        h.close();
    }

    @Test
    void devicesBeyondTheMmioSlotsAreRefused() throws Exception {
        BuiltinHypervisor h = prepared(List.of(), false);
        Path img = Files.writeString(dir.resolve("b.img"), "b");
        int room = dev.kava.vmm.memory.MemoryMap.MAX_VIRTIO_DEVICES - 3;
        for (int i = 0; i < room - 1; i++) {
            h.addDevice(new Device.BlockDevice(img, true));
        }
        h.addDevice(new Device.SharedFs("last", Files.createDirectories(dir.resolve("s")), Device.SharedFs.Kind.VIRTIO_FS));
        HypervisorException e = assertThrows(HypervisorException.class, () -> h.addDevice(new Device.BlockDevice(img, true)));
        assertTrue(e.getMessage().contains("too many devices"), e.getMessage());
        assertEquals(dev.kava.vmm.memory.MemoryMap.MAX_VIRTIO_DEVICES, h.vmSpec().devices().size());
    }

    @Test
    void theLifecycleOrderIsEnforced() throws Exception {
        BuiltinHypervisor h = prepared(List.of(), false);
        assertThrows(HypervisorException.class, () -> h.prepare(new VmConfig(1, 64, dir.resolve("bzImage"), dir.resolve("root.img"),
                List.of(), dir.resolve("console.log"), false)));
        BuiltinHypervisor fresh = (BuiltinHypervisor) new BuiltinProvider(() -> HARDWARE).create("sb2", dir.resolve("s2"));
        assertThrows(HypervisorException.class, () -> fresh.addDevice(new Device.BlockDevice(dir.resolve("root.img"), true)));
        assertThrows(HypervisorException.class, fresh::vmSpec);
        assertThrows(HypervisorException.class, () -> new BuiltinProvider(() -> HARDWARE).create("sb3", dir).prepare(
                new VmConfig(1, 64, dir.resolve("nope"), dir.resolve("root.img"), List.of(), dir.resolve("console.log"), false)));
    }

    @Test
    void vmExitsBecomeProcessLikeExitCodes() {
        assertEquals(0, BuiltinHypervisor.exitCode(new VmExit.GuestReset()));
        assertEquals(0, BuiltinHypervisor.exitCode(new VmExit.GuestShutdown("triple fault")));
        assertEquals(0, BuiltinHypervisor.exitCode(new VmExit.Stopped()));
        assertEquals(1, BuiltinHypervisor.exitCode(new VmExit.Failed("x")));
    }
}
