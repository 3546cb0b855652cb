package dev.kava.vmm;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Everything a {@link Vmm} is built from.
 *
 * @param vcpus        1..{@value dev.kava.vmm.boot.MpTable#MAX_CPUS}
 * @param memoryBytes  guest RAM, a multiple of 2 MiB, at least 16 MiB
 * @param boot         a Linux kernel, or a bare program (tests)
 * @param devices      virtio devices, in the order they get their MMIO windows (the first block
 *                     device is the guest's {@code /dev/vda})
 * @param serial       where the COM1 console goes
 * @param pvHypercalls advertise KVM's hypercall-based PV features in CPUID (see
 *                     {@link dev.kava.vmm.cpu.CpuidPolicy}); off unless the host really runs them
 */
public record VmSpec(int vcpus, long memoryBytes, Boot boot, List<DeviceSpec> devices, SerialConsole serial,
                     boolean pvHypercalls) {
    public VmSpec {
        if (vcpus < 1 || vcpus > dev.kava.vmm.boot.MpTable.MAX_CPUS) {
            throw new IllegalArgumentException("vcpus must be 1.." + dev.kava.vmm.boot.MpTable.MAX_CPUS + ": " + vcpus);
        }
        Objects.requireNonNull(boot, "boot");
        Objects.requireNonNull(serial, "serial");
        devices = List.copyOf(devices);
        if (devices.size() > dev.kava.vmm.memory.MemoryMap.MAX_VIRTIO_DEVICES) {
            throw new IllegalArgumentException("at most " + dev.kava.vmm.memory.MemoryMap.MAX_VIRTIO_DEVICES + " devices");
        }
        dev.kava.vmm.memory.MemoryMap.ramRanges(memoryBytes); // validates
    }

    /** What the boot vCPU starts. */
    public sealed interface Boot {}

    /**
     * A Linux kernel (bzImage or ELF vmlinux) with an optional initrd and its command line; the VMM
     * appends a {@code virtio_mmio.device=} parameter per device.
     */
    public record LinuxKernel(Path kernel, Path initrd, String commandLine) implements Boot {
        public LinuxKernel {
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(commandLine, "commandLine");
        }
    }

    /**
     * A bare 64-bit program loaded at {@code address} and entered in long mode there, with the
     * boot code's page tables and GDT; with {@code allVcpus} every vCPU starts in it at once (each
     * with its own stack), otherwise the others wait for INIT/SIPI.
     */
    public record Program(byte[] code, long address, boolean allVcpus) implements Boot {
        public Program {
            code = code.clone();
        }
    }

    /**
     * The COM1 console: output appended to {@code log} (null: not kept), and, with {@code socket},
     * a unix socket the host can connect to for live output and input (one client at a time).
     */
    public record SerialConsole(Path log, Path socket) {
        public static SerialConsole toFile(Path log) {
            return new SerialConsole(Objects.requireNonNull(log), null);
        }

        public static SerialConsole none() {
            return new SerialConsole(null, null);
        }
    }
}
