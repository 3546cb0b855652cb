package dev.kava.hypervisor;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The shape of one VM.
 *
 * @param vcpus number of virtual CPUs (at least 1)
 * @param memoryMiB guest RAM in MiB (at least 16)
 * @param kernel the guest kernel (bzImage, or an ELF vmlinux with a PVH note)
 * @param rootImage a read-only ext4 image attached as the first virtio-blk device; the guest boots
 *                  with {@code root=/dev/vda ro}
 * @param kernelParams appended to the plugin's base kernel command line (later parameters win)
 * @param consoleLog where the guest's serial console is written; the caller owns this file
 * @param debugConsole verbose kernel messages on the console instead of {@code quiet}
 */
public record VmConfig(int vcpus, int memoryMiB, Path kernel, Path rootImage, List<String> kernelParams,
                       Path consoleLog, boolean debugConsole) {
    public VmConfig {
        if (vcpus < 1) throw new IllegalArgumentException("vcpus must be at least 1, got " + vcpus);
        if (memoryMiB < 16) throw new IllegalArgumentException("memoryMiB must be at least 16, got " + memoryMiB);
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(rootImage, "rootImage");
        Objects.requireNonNull(consoleLog, "consoleLog");
        kernelParams = List.copyOf(kernelParams == null ? List.of() : kernelParams);
        for (String p : kernelParams) {
            if (p.isBlank() || p.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                throw new IllegalArgumentException("bad kernel parameter '" + p + "'");
            }
        }
    }
}
