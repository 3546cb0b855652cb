package dev.kava.hypervisor.qemu;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.VmConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QemuCommandLineTest {

    private static final Acceleration TCG = new Acceleration(false, "TCG", 2_096_039);
    private static final Acceleration KVM = new Acceleration(true, "KVM", 2_096_039);
    private static final StateFiles FILES = StateFiles.in(Path.of("/run/kava/sb1"));
    private static final VmConfig CONFIG = new VmConfig(2, 256, Path.of("/k/bzImage"), Path.of("/img/root.ext4"),
            List.of("agent.log=debug"), Path.of("/run/kava/sb1/console.log"), false);

    private static List<String> build(Acceleration accel, VmConfig config, List<Device> devices) {
        return QemuCommandLine.build(Path.of("/usr/bin/qemu-system-x86_64"), accel, "sb1", config, devices, FILES);
    }

    /** The value following {@code option} (the first occurrence). */
    private static String after(List<String> argv, String option) {
        return argv.get(argv.indexOf(option) + 1);
    }

    @Test
    void tcgMicrovmWithRootImageAgentPortAndQmp() {
        List<String> argv = build(TCG, CONFIG, List.of());
        assertEquals("/usr/bin/qemu-system-x86_64", argv.getFirst());
        assertEquals("microvm,acpi=off,rtc=on,isa-serial=on", after(argv, "-M"));
        assertEquals("tcg,thread=multi,tb-size=64", after(argv, "-accel"));
        assertEquals("max", after(argv, "-cpu"));
        assertTrue(argv.containsAll(List.of("-nodefaults", "-no-user-config", "-nographic", "-no-reboot")));
        assertEquals("2", after(argv, "-smp"));
        assertEquals("256M", after(argv, "-m"));
        assertEquals("/k/bzImage", after(argv, "-kernel"));
        assertEquals("console=ttyS0 reboot=t panic=-1 root=/dev/vda ro rootfstype=ext4 no_timer_check quiet "
                + "tsc_early_khz=2096039 tsc=reliable agent.log=debug", after(argv, "-append"));
        assertEquals("file=/img/root.ext4,if=none,id=root,format=raw,readonly=on", after(argv, "-drive"));
        assertEquals("virtio-blk-device,drive=root", after(argv, "-device"));
        assertTrue(argv.contains("socket,id=agent,path=/run/kava/sb1/agent.sock,server=on,wait=off"));
        assertTrue(argv.contains("virtserialport,chardev=agent,name=agent.0"));
        assertTrue(argv.contains("socket,id=qmp,path=/run/kava/sb1/qmp.sock,server=on,wait=off"));
        assertEquals("chardev=qmp,mode=control", after(argv, "-mon"));
        assertEquals("/run/kava/sb1/qemu.pid", after(argv, "-pidfile"));
    }

    @Test
    void kvmUsesTheHostCpuAndNoTscParameter() {
        List<String> argv = build(KVM, CONFIG, List.of());
        assertEquals("kvm", after(argv, "-accel"));
        assertEquals("microvm,acpi=off,rtc=off,isa-serial=on", after(argv, "-M"));
        assertEquals("host", after(argv, "-cpu"));
        assertFalse(after(argv, "-append").contains("tsc_early_khz"));
    }

    @Test
    void debugConsoleReplacesQuietWithLoglevel() {
        VmConfig debug = new VmConfig(1, 128, CONFIG.kernel(), CONFIG.rootImage(), List.of(), CONFIG.consoleLog(), true);
        String append = after(build(TCG, debug, List.of()), "-append");
        assertFalse(append.contains("quiet"));
        assertTrue(append.contains("loglevel=7"));
    }

    @Test
    void devicesFollowTheRootImageInOrder() {
        List<String> argv = build(TCG, CONFIG, List.of(
                new Device.SharedFs("rootfs", Path.of("/srv/share"), Device.SharedFs.Kind.NINE_P),
                new Device.BlockDevice(Path.of("/img/data.raw"), false)));
        int root = argv.indexOf("virtio-blk-device,drive=root");
        int fs = argv.indexOf("virtio-9p-device,fsdev=fs0,mount_tag=rootfs");
        int blk = argv.indexOf("virtio-blk-device,drive=blk0");
        assertTrue(root < fs && fs < blk, argv.toString());
        assertTrue(argv.contains("local,id=fs0,path=/srv/share,security_model=passthrough,multidevs=remap"));
        assertTrue(argv.contains("file=/img/data.raw,if=none,id=blk0,format=raw,readonly=off"));
        assertEquals(1, Collections.frequency(argv, "virtio-serial-device"));
        assertTrue(argv.contains("virtio-rng-device,rng=rng0"), "the guest gets host entropy: " + argv);
    }

    @Test
    void commasInPathsAreDoubled() {
        List<String> argv = build(TCG, CONFIG, List.of(new Device.SharedFs("t", Path.of("/a,b"),
                Device.SharedFs.Kind.NINE_P)));
        assertTrue(argv.contains("local,id=fs0,path=/a,,b,security_model=passthrough,multidevs=remap"), argv.toString());
    }

    @Test
    void virtioFsIsAVhostUserDeviceOnSharedMemfdRam() {
        List<String> argv = build(TCG, CONFIG, List.of(
                new Device.SharedFs("kavashare", Path.of("/run/kava/sb1/shared"), Device.SharedFs.Kind.VIRTIO_FS),
                new Device.SharedFs("nine", Path.of("/srv/nine"), Device.SharedFs.Kind.NINE_P)));
        assertEquals("microvm,acpi=off,rtc=on,isa-serial=on,memory-backend=ram", after(argv, "-M"));
        assertTrue(argv.contains("memory-backend-memfd,id=ram,size=256M,share=on"), argv.toString());
        assertEquals("256M", after(argv, "-m"), "-m and the backend's size agree");
        assertTrue(argv.contains("socket,id=vfs0,path=/run/kava/sb1/vfs-kavashare.sock"), argv.toString());
        assertTrue(argv.contains("vhost-user-fs-device,chardev=vfs0,tag=kavashare,queue-size=1024"), argv.toString());
        assertTrue(argv.contains("virtio-9p-device,fsdev=fs0,mount_tag=nine"), "9p stays available beside it");
        assertFalse(String.join(" ", argv).contains("path=/run/kava/sb1/shared"), "QEMU never sees the shared directory");
    }

    @Test
    void withoutVirtioFsTheRamIsPrivate() {
        List<String> argv = build(TCG, CONFIG, List.of(new Device.SharedFs("t", Path.of("/srv"), Device.SharedFs.Kind.NINE_P)));
        assertFalse(String.join(" ", argv).contains("memory-backend"), argv.toString());
    }
}
