package dev.kava.hypervisor.qemu;

import dev.kava.hypervisor.Device;
import dev.kava.hypervisor.VmConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the argv of one microvm QEMU. Pure: no file is touched, so it is unit-tested without QEMU.
 *
 * <p>Choices, each measured on QEMU 7.2 under TCG:
 * <ul>
 *   <li>{@code -M microvm,acpi=off,isa-serial=on}: no PCI, no ACPI, virtio-mmio devices that
 *       QEMU itself announces on the kernel command line ({@code virtio_mmio.device=}, the machine's
 *       {@code auto-kernel-cmdline}). Without ACPI the guest cannot power off, so the kernel gets
 *       {@code reboot=t} (triple fault) and QEMU {@code -no-reboot}: a guest reboot or panic
 *       ({@code panic=-1}) ends the QEMU process.</li>
 *   <li>{@code rtc=on} under TCG, {@code rtc=off} under KVM. Without kvmclock (TCG) the kernel reads
 *       the wall clock from the CMOS RTC; with no RTC it polls the update-in-progress bit (which reads
 *       1 forever) and gives up with "Unable to read current time from RTC" after ~1.5 s of guest
 *       time (measured here: init at 2.4 s with rtc=off, 0.9 s with rtc=on), and the guest's clock
 *       says 1970. Under KVM, kvmclock supplies the wall clock and the RTC is never read.</li>
 *   <li>{@code no_timer_check} always (as Kata does; a KVM guest with kvmclock sets it itself): the
 *       kernel's IO-APIC timer check counts PIT ticks during a 10 ms busy wait; under TCG on a busy
 *       host ticks are lost and the guest panics with "IO-APIC + timer doesn't work!" (seen here at
 *       load average 5 on 2 cores).</li>
 *   <li>Every control and data socket is a {@code -chardev socket,...,server=on,wait=off} so that
 *       option values are escaped one way ({@code ,} doubled); QMP is {@code -mon mode=control} on
 *       such a chardev, the same as {@code -qmp unix:PATH,server=on,wait=off}.</li>
 *   <li>The root image is the first virtio-blk device given, so the guest names it
 *       {@code /dev/vda}; further {@code BlockDevice}s follow in the order they were added.</li>
 *   <li>A virtio-fs share is a {@code vhost-user-fs-device} whose back-end is kava's own server,
 *       listening on {@code vfs-TAG.sock} in the state directory (QEMU connects as the client). A
 *       vhost-user back-end must map the guest's RAM, so with any virtio-fs share the RAM is a
 *       {@code memory-backend-memfd} with {@code share=on} (QEMU sends its fds). The queue size is
 *       raised from QEMU's 128 to 1024 so the guest can keep more requests in flight.</li>
 * </ul>
 */
final class QemuCommandLine {

    /** The virtio-serial port name the guest agent opens ({@code /sys/class/virtio-ports/*}/name). */
    static final String AGENT_PORT = "agent.0";
    /** The id of the shared RAM backend a vhost-user back-end maps. */
    static final String RAM_ID = "ram";

    private QemuCommandLine() {
    }

    static List<String> build(Path qemu, Acceleration accel, String sandboxId, VmConfig config, List<Device> devices,
                              StateFiles files) {
        List<String> a = new ArrayList<>();
        a.add(qemu.toString());
        a.addAll(List.of("-name", "kava-" + esc(sandboxId) + ",debug-threads=on"));
        boolean sharedRam = devices.stream().anyMatch(d -> d instanceof Device.SharedFs s && s.kind() == Device.SharedFs.Kind.VIRTIO_FS);
        a.addAll(List.of("-M", "microvm,acpi=off,rtc=" + (accel.kvm() ? "off" : "on") + ",isa-serial=on"
                + (sharedRam ? ",memory-backend=" + RAM_ID : "")));
        a.addAll(accel.qemuArgs());
        a.addAll(List.of("-nodefaults", "-no-user-config", "-nographic", "-no-reboot"));
        a.addAll(List.of("-smp", Integer.toString(config.vcpus()), "-m", config.memoryMiB() + "M"));
        if (sharedRam) {
            a.addAll(List.of("-object", "memory-backend-memfd,id=" + RAM_ID + ",size=" + config.memoryMiB() + "M,share=on"));
        }
        a.addAll(List.of("-kernel", config.kernel().toAbsolutePath().toString()));
        a.addAll(List.of("-append", String.join(" ", kernelCommandLine(accel, config))));
        a.addAll(List.of("-chardev", "file,id=console,path=" + esc(config.consoleLog()), "-serial", "chardev:console"));
        a.addAll(List.of("-drive", "file=" + esc(config.rootImage()) + ",if=none,id=root,format=raw,readonly=on",
                "-device", "virtio-blk-device,drive=root"));
        // entropy from the host, so the guest's random pool is ready at once (the JVM and crun read it early)
        a.addAll(List.of("-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-device,rng=rng0"));
        int fs = 0;
        int vfs = 0;
        int blk = 0;
        for (Device d : devices) {
            switch (d) {
                case Device.SharedFs s when s.kind() == Device.SharedFs.Kind.VIRTIO_FS -> {
                    String id = "vfs" + vfs++;
                    a.addAll(List.of("-chardev", "socket,id=" + id + ",path=" + esc(files.virtioFsSocket(s.tag())),
                            "-device", "vhost-user-fs-device,chardev=" + id + ",tag=" + s.tag()
                                    + ",queue-size=" + VirtioFsShare.QUEUE_SIZE));
                }
                case Device.SharedFs s -> {
                    String id = "fs" + fs++;
                    a.addAll(List.of("-fsdev", "local,id=" + id + ",path=" + esc(s.hostPath())
                                    + ",security_model=passthrough,multidevs=remap",
                            "-device", "virtio-9p-device,fsdev=" + id + ",mount_tag=" + s.tag()));
                }
                case Device.BlockDevice b -> {
                    String id = "blk" + blk++;
                    a.addAll(List.of("-drive", "file=" + esc(b.path()) + ",if=none,id=" + id + ",format=raw,readonly="
                                    + (b.readOnly() ? "on" : "off"),
                            "-device", "virtio-blk-device,drive=" + id));
                }
            }
        }
        a.addAll(List.of("-device", "virtio-serial-device",
                "-chardev", "socket,id=agent,path=" + esc(files.agentSocket()) + ",server=on,wait=off",
                "-device", "virtserialport,chardev=agent,name=" + AGENT_PORT));
        a.addAll(List.of("-chardev", "socket,id=qmp,path=" + esc(files.qmpSocket()) + ",server=on,wait=off",
                "-mon", "chardev=qmp,mode=control"));
        a.addAll(List.of("-pidfile", files.pidFile().toString()));
        return List.copyOf(a);
    }

    /** The kernel command line before QEMU appends its {@code virtio_mmio.device=} entries. */
    static List<String> kernelCommandLine(Acceleration accel, VmConfig config) {
        List<String> k = new ArrayList<>(List.of("console=ttyS0", "reboot=t", "panic=-1", "root=/dev/vda", "ro",
                "rootfstype=ext4", "no_timer_check"));
        k.add(config.debugConsole() ? "loglevel=7" : "quiet");
        k.addAll(accel.kernelParams());
        k.addAll(config.kernelParams());
        return k;
    }

    /** QEMU option values: a comma is written as two. */
    static String esc(Object value) {
        String s = value instanceof Path p ? p.toAbsolutePath().toString() : value.toString();
        return s.replace(",", ",,");
    }
}
