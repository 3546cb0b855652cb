package dev.kava.hypervisor.qemu;

import dev.kava.hypervisor.Hypervisor;
import dev.kava.hypervisor.HypervisorException;
import dev.kava.hypervisor.HypervisorProvider;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@code qemu} plugin: {@code qemu-system-x86_64 -M microvm}, with KVM when the host has
 * hardware virtualization and TCG otherwise (see {@link Acceleration}).
 */
public final class QemuProvider implements HypervisorProvider {

    public static final String NAME = "qemu";
    public static final String BINARY = "qemu-system-x86_64";

    private final Path binary;

    /** Finds {@code qemu-system-x86_64} on {@code PATH} (for {@link java.util.ServiceLoader}). */
    public QemuProvider() {
        this(null);
    }

    /** Uses the given QEMU binary; {@code null} looks it up on {@code PATH}. */
    public QemuProvider(Path binary) {
        this.binary = binary;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Availability availability() {
        Optional<Path> qemu = qemuBinary();
        if (qemu.isEmpty()) {
            return new Availability(false, (binary != null ? binary + " is not an executable" : BINARY + " not found")
                    + ": apt-get install qemu-system-x86");
        }
        return new Availability(true, Acceleration.detect().reason());
    }

    @Override
    public Hypervisor create(String sandboxId, Path stateDir) {
        HypervisorProvider.checkCreateArguments(sandboxId, stateDir);
        Availability a = availability();
        if (!a.available()) throw new HypervisorException("qemu is not available: " + a.reason());
        return new QemuHypervisor(qemuBinary().orElseThrow(), Acceleration.detect(), sandboxId, stateDir);
    }

    private Optional<Path> qemuBinary() {
        if (binary != null) return Files.isExecutable(binary) ? Optional.of(binary) : Optional.empty();
        String path = Objects.requireNonNullElse(System.getenv("PATH"), "/usr/local/bin:/usr/bin:/bin");
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, BINARY);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return Optional.of(p);
        }
        return Optional.empty();
    }
}
